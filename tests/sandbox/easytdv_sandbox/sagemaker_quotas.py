"""SageMaker training quotas, like a fresh account's, in Service Quotas
(ServiceCode `sagemaker`): "ml.<type> for training job usage" and
"ml.<type> for spot training job usage", one per ml.* type CreateTrainingJob
accepts, counted in instances per region.

Codes: the real ones where known (REAL_CODES); the others are derived
(`L-` + 8 hex digits of a hash of the name), stable but not AWS's: look quotas
up by QuotaName. Defaults: 0 for accelerated types (G, P, Trn, Inf, DL), 2 for
CPU types with up to 4 vCPUs, 1 up to 16 vCPUs, 0 above. Values are set with
the quotas hook (by code or by name), --quota or EASYTDV_SANDBOX_QUOTAS.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from moto.ec2.models.instance_types import INSTANCE_TYPES

REAL_CODES = {  # "ml.<type> for training job usage" codes seen in AWS accounts
    "ml.g4dn.xlarge for training job usage": "L-3F53BF0F",
    "ml.g5.xlarge for training job usage": "L-B6D80D9C",
    "ml.g6.xlarge for training job usage": "L-1B43CB89",
    "ml.g6.4xlarge for training job usage": "L-07B51BA0",
}
ACCELERATED = ("g", "p", "trn", "inf", "dl", "gr")


def quota_name(ml_type: str, spot: bool) -> str:
    return f"{ml_type} for {'spot ' if spot else ''}training job usage"


def _code_of(name: str) -> str:
    return REAL_CODES.get(name) or "L-" + hashlib.sha256(f"sagemaker|{name}".encode()).hexdigest()[:8].upper()


@lru_cache(maxsize=1)
def catalogue() -> dict[str, tuple[str, str, bool, float]]:
    """code -> (name, ml type, spot, default value)."""
    from .prices_data import training_instance_types

    out = {}
    for ml_type in training_instance_types():
        for spot in (False, True):
            name = quota_name(ml_type, spot)
            out[_code_of(name)] = (name, ml_type, spot, default_value(ml_type))
    return out


@lru_cache(maxsize=1)
def by_name() -> dict[str, str]:
    return {name: code for code, (name, _, _, _) in catalogue().items()}


def code_for(ml_type: str, spot: bool) -> str:
    return by_name()[quota_name(ml_type, spot)]


def resolve(key: str) -> str | None:
    """A quota code from a code or a quota name (None: not a SageMaker training quota)."""
    if key in catalogue():
        return key
    return by_name().get(key)


def default_value(ml_type: str) -> float:
    itype = ml_type[3:]
    family = re.match(r"[a-z]*", itype.split(".", 1)[0]).group(0)
    if family.startswith(ACCELERATED) or INSTANCE_TYPES.get(itype, {}).get("GpuInfo"):
        return 0.0
    vcpus = int(INSTANCE_TYPES.get(itype, {}).get("VCpuInfo", {}).get("DefaultVCpus", 64))
    return 2.0 if vcpus <= 4 else 1.0 if vcpus <= 16 else 0.0


def quota(region: str, account: str, code: str, value: float) -> dict:
    name, ml_type, _, _ = catalogue()[code]
    return {
        "ServiceCode": "sagemaker",
        "ServiceName": "Amazon SageMaker",
        "QuotaArn": f"arn:aws:servicequotas:{region}:{account}:sagemaker/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
        "UsageMetric": {
            "MetricNamespace": "AWS/Usage",
            "MetricName": "ResourceCount",
            "MetricDimensions": {
                "Class": "None",
                "Resource": f"{'spot-' if 'spot' in name else ''}training-job/{ml_type}",
                "Service": "SageMaker",
                "Type": "Resource",
            },
            "MetricStatisticRecommendation": "Maximum",
        },
    }


def limit_message(ml_type: str, spot: bool, limit: float, used: int, delta: int) -> str:
    return (
        f"The account-level service limit '{quota_name(ml_type, spot)}' is {limit:g} Instances, with current "
        f"utilization of {used} Instances and a request delta of {delta} Instances. Please use AWS Service Quotas "
        "to request an increase for this quota. If AWS Service Quotas is not available, contact AWS support to "
        "request an increase for this quota."
    )
