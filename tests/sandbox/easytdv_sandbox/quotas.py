"""EC2 vCPU quotas, zone offerings and capacity, like a fresh AWS account.

- Service Quotas `GetServiceQuota` / `ListServiceQuotas` (ServiceCode `ec2`)
  answer the on-demand vCPU quotas below, per region, settable with
  `POST /easytdv-api/quotas`, `--quota CODE=VALUE` or EASYTDV_SANDBOX_QUOTAS.
- RunInstances counts the pending+running vCPUs of the new instance's quota
  bucket in the region and refuses with `VcpuLimitExceeded` beyond the quota.
- RunInstances in a zone that does not offer the type -> `Unsupported`
  (eu-west-3c offers no g5.xlarge here, on purpose).
- `POST /easytdv-api/capacity` makes the next N RunInstances in a zone (of one
  type, or any; of one market, `spot` or `on-demand`, or any) fail with
  `InsufficientInstanceCapacity`, in AWS's words for that market.
- A market type other than `spot` is `InvalidParameterValue` (moto takes any).
- ClientToken: RunInstances repeated with the same token returns the first
  reservation instead of launching again (moto ignores the token).
"""

from __future__ import annotations

import re
import threading

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.iam_instance_profile import IamInstanceProfileAssociationBackend
from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS, INSTANCE_TYPES
from moto.servicequotas.exceptions import NoSuchResource
from moto.servicequotas.models import ServiceQuotasBackend
from moto.servicequotas.responses import ServiceQuotasResponse

from . import gateway, principals, sagemaker_quotas
from .config import CONFIG

# code -> (name, default vCPUs, families). Defaults: a new account's G/VT, P and
# the accelerator families start at 0; the standard bucket is given 32 here
# (AWS starts new accounts lower, often 5) so the test suites' parallel
# machines fit: set it with the hook or --quota to test a small account.
ON_DEMAND = {
    "L-1216C47A": ("Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", 32.0, tuple("acdhimrtz")),
    "L-DB2E81BA": ("Running On-Demand G and VT instances", 0.0, ("g", "vt")),
    "L-417A185B": ("Running On-Demand P instances", 0.0, ("p",)),
    "L-74FC7D96": ("Running On-Demand F instances", 0.0, ("f",)),
    "L-1945791B": ("Running On-Demand Inf instances", 0.0, ("inf",)),
    "L-2C3B7624": ("Running On-Demand Trn instances", 0.0, ("trn",)),
    "L-6E869C2A": ("Running On-Demand DL instances", 0.0, ("dl",)),
    "L-7295265B": ("Running On-Demand X instances", 0.0, ("x",)),
    "L-43DA4232": ("Running On-Demand High Memory instances", 0.0, ("u",)),
}
# Zones that do not offer a type (so the launcher's "Unsupported" path is testable).
NOT_OFFERED = {("eu-west-3", "eu-west-3c"): {"g5.xlarge"}}
LIVE = ("pending", "running")

_lock = threading.Lock()
OVERRIDES: dict[str, dict[str, float]] = {}  # region ("*" = all) -> code -> value
CAPACITY: list[dict] = []  # {"region", "zone", "instance_type" or None, "count"}
_TOKENS: dict[tuple[str, str, str], str] = {}  # (account, region, token) -> reservation id


def family(instance_type: str) -> str:
    """`g5.xlarge` -> `g`, `inf2.xlarge` -> `inf`, `u-6tb1.metal` -> `u`."""
    return re.match(r"[a-z]*", instance_type.split(".", 1)[0]).group(0)


def quota_code(instance_type: str) -> str | None:
    fam = family(instance_type)
    for code, (_, _, families) in ON_DEMAND.items():
        if fam in families and code != "L-1216C47A":
            return code
    if fam in ("hpc", "mac"):  # their own buckets, not emulated
        return None
    if fam and fam[0] in ON_DEMAND["L-1216C47A"][2]:
        return "L-1216C47A"
    return None


def vcpus(instance_type: str) -> int:
    info = INSTANCE_TYPES.get(instance_type, {}).get("VCpuInfo", {})
    return int(info.get("DefaultVCpus", 1))


def value(region: str, code: str) -> float:
    """An EC2 or SageMaker quota's value in the region (hook/flag settings, else the default)."""
    with _lock:
        for scope in (region, "*"):
            if code in OVERRIDES.get(scope, {}):
                return OVERRIDES[scope][code]
    if code in ON_DEMAND:
        return ON_DEMAND[code][1]
    return sagemaker_quotas.catalogue()[code][3]


def quota(region: str, account: str, code: str) -> dict:
    name = ON_DEMAND[code][0]
    return {
        "ServiceCode": "ec2",
        "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
        "QuotaArn": f"arn:aws:servicequotas:{region}:{account}:ec2/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": value(region, code),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
        "UsageMetric": {
            "MetricNamespace": "AWS/Usage",
            "MetricName": "ResourceCount",
            "MetricDimensions": {
                "Class": name.split("Running On-Demand ", 1)[1].split(" instances")[0].split(" (")[0] + "/OnDemand",
                "Resource": "vCPU",
                "Service": "EC2",
                "Type": "Resource",
            },
            "MetricStatisticRecommendation": "Maximum",
        },
    }


def set_quotas(region: str, values: dict[str, float]) -> None:
    """EC2 codes, or SageMaker training quotas by code or by name ("ml.g5.xlarge for training job usage")."""
    resolved = {}
    for key, v in values.items():
        code = key if key in ON_DEMAND else sagemaker_quotas.resolve(key)
        if code is None:
            raise ValueError(
                f"unknown quota {key!r} (EC2 codes: {', '.join(ON_DEMAND)}; SageMaker: a code or a name like "
                "'ml.m5.xlarge for training job usage' / 'ml.g5.xlarge for spot training job usage')"
            )
        if float(v) < 0:
            raise ValueError("a quota is >= 0")
        resolved[code] = float(v)
    with _lock:
        OVERRIDES.setdefault(region or "*", {}).update(resolved)


def parse_quota_settings(text: str) -> dict[str, float]:
    """`L-DB2E81BA=8,ml.g5.xlarge for training job usage=1` (the --quota flag and EASYTDV_SANDBOX_QUOTAS)."""
    out = {}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        code, _, v = item.rpartition("=")
        out[code.strip()] = float(v)
    return out


@gateway.hook("quotas")
def _quotas_hook(method: str, data: dict) -> tuple[int, dict]:
    """POST {"region": "eu-west-3" or "*", "quotas": {"L-DB2E81BA": 8}}; GET ?region shows them."""
    region = str(data.get("region") or "*")
    if method == "POST":
        set_quotas(region, {str(k): float(v) for k, v in dict(data["quotas"]).items()})
    shown = region if region != "*" else "us-east-1"
    with _lock:
        set_here = set(OVERRIDES.get(region, {})) | set(OVERRIDES.get("*", {}))
    sagemaker = {sagemaker_quotas.catalogue()[c][0]: value(shown, c) for c in sorted(set_here) if c not in ON_DEMAND}
    return 200, {
        "region": region,
        "quotas": {code: value(shown, code) for code in ON_DEMAND},
        "sagemaker": sagemaker,  # only the SageMaker quotas set by hook or flag
    }


@gateway.hook("capacity")
def _capacity_hook(method: str, data: dict) -> tuple[int, dict]:
    """POST {"region", "zone", "instance_type" (optional), "market" (optional:
    "spot" or "on-demand"), "count": N}: the next N RunInstances in that zone
    (of that type and market) fail with InsufficientInstanceCapacity."""
    if method == "POST":
        zone = str(data["zone"])
        region = str(data.get("region") or zone[:-1])
        count = int(data.get("count", 1))
        if count < 0:
            raise ValueError("count is >= 0")
        with _lock:
            market = data.get("market")
            if market not in (None, "spot", "on-demand"):
                raise ValueError("market is spot or on-demand")
            CAPACITY.append(
                {
                    "region": region,
                    "zone": zone,
                    "instance_type": data.get("instance_type"),
                    "market": market,
                    "count": count,
                }
            )
    with _lock:
        return 200, {"pending": [dict(c) for c in CAPACITY if c["count"] > 0]}


def reset() -> None:
    """Forget hook settings; the server's own (--quota / EASYTDV_SANDBOX_QUOTAS) stay."""
    with _lock:
        OVERRIDES.clear()
        CAPACITY.clear()
        _TOKENS.clear()
    if CONFIG.quotas:
        set_quotas("*", CONFIG.quotas)


# --- RunInstances ---------------------------------------------------------------


def _zone_of(backend, kwargs) -> str:
    if kwargs.get("subnet_id"):
        return backend.get_subnet(kwargs["subnet_id"]).availability_zone
    return kwargs.get("placement") or backend.region_name + "a"


def _offered_zones(region: str, instance_type: str) -> list[str]:
    return sorted(
        o["Location"]
        for o in INSTANCE_TYPE_OFFERINGS["availability-zone"].get(region, [])
        if o["InstanceType"] == instance_type
    )


def check_launch(backend, count: int, kwargs) -> None:
    """Raise what EC2 would: Unsupported, VcpuLimitExceeded, InsufficientInstanceCapacity."""
    region = backend.region_name
    itype = kwargs.get("instance_type") or "m1.small"
    zone = _zone_of(backend, kwargs)
    offered = _offered_zones(region, itype)
    if offered and zone not in offered:
        raise EC2ClientError(
            "Unsupported",
            f"Your requested instance type ({itype}) is not supported in your requested Availability Zone "
            f"({zone}). Please retry your request by not specifying an Availability Zone or choosing "
            f"{', '.join(offered)}.",
        )
    code = quota_code(itype)
    if code is not None:
        limit = value(region, code)
        used = sum(
            vcpus(i.instance_type)
            for i in backend.all_instances()
            if i.state in LIVE and quota_code(i.instance_type) == code
        )
        if used + count * vcpus(itype) > limit:
            raise EC2ClientError(
                "VcpuLimitExceeded",
                f"You have requested more vCPU capacity than your current vCPU limit of {limit:g} allows for the "
                "instance bucket that the specified instance type belongs to. Please visit "
                "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
            )
    market = kwargs.get("instance_market_options") or "on-demand"
    if market not in ("spot", "on-demand"):
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Value ({market}) for parameter InstanceMarketOptions.MarketType is invalid. "
            "Valid values are: spot, capacity-block, interruptible-capacity-reservation",
        )
    with _lock:
        for c in CAPACITY:
            if (
                c["count"] > 0
                and c["region"] == region
                and c["zone"] == zone
                and c["instance_type"] in (None, itype)
                and c.get("market") in (None, market)
            ):
                c["count"] -= 1
                others = [z for z in offered if z != zone]
                if market == "spot":
                    raise EC2ClientError(
                        "InsufficientInstanceCapacity", "There is no Spot capacity available that matches your request."
                    )
                raise EC2ClientError(
                    "InsufficientInstanceCapacity",
                    f"We currently do not have sufficient {itype} capacity in the Availability Zone you requested "
                    f"({zone}). Our system will be working on provisioning additional capacity. You can currently "
                    f"get {itype} capacity by not specifying an Availability Zone in your request or choosing "
                    f"{', '.join(others)}.",
                )


def run_instances(orig, backend, *args, **kwargs):
    """Wraps moto's run_instances(image_id, count, user_data, security_group_names, **kwargs):
    ClientToken idempotency, then the checks above."""
    token = kwargs.get("client_token")
    key = (backend.account_id, backend.region_name, token) if token and token != "ABCDE" else None
    _repeat.ids = set()
    if key is not None:
        with _lock:
            rid = _TOKENS.get(key)
        if rid is not None and rid in backend.reservations:
            reservation = backend.reservations[rid]
            # moto's handler associates the instance profile again after this returns
            _repeat.ids = {i.id for i in reservation.instances}
            return reservation
    count = args[1] if len(args) > 1 else kwargs.get("count", 1)
    check_launch(backend, int(count or 1), kwargs)
    reservation = orig(backend, *args, **kwargs)
    if key is not None:
        with _lock:
            _TOKENS[key] = reservation.id
    return reservation


_repeat = threading.local()
_orig_associate = IamInstanceProfileAssociationBackend.associate_iam_instance_profile


def _associate_iam_instance_profile(self, instance_id, *args, **kwargs):
    if instance_id in getattr(_repeat, "ids", ()) and instance_id in self.iam_instance_profile_associations:
        return self.iam_instance_profile_associations[instance_id]
    association = _orig_associate(self, instance_id, *args, **kwargs)
    # The call recording names the instance's role even after the role is deleted.
    gateway.remember_role(principals.instance_key(instance_id))
    return association


# --- Service Quotas ---------------------------------------------------------------

_orig_get_quota = ServiceQuotasBackend.get_service_quota


def _get_service_quota(self, service_code: str, quota_code: str) -> dict:
    if service_code == "ec2":
        if quota_code not in ON_DEMAND:
            raise NoSuchResource
        return quota(self.region_name, self.account_id, quota_code)
    if service_code == "sagemaker":
        if quota_code not in sagemaker_quotas.catalogue():
            raise NoSuchResource
        return sagemaker_quotas.quota(
            self.region_name, self.account_id, quota_code, value(self.region_name, quota_code)
        )
    return _orig_get_quota(self, service_code, quota_code)


def _list_service_quotas(self) -> str:
    import json

    params = json.loads(self.body or "{}")
    service = params.get("ServiceCode")
    if service == "ec2":
        quotas = [quota(self.region, self.current_account, code) for code in ON_DEMAND]
    elif service == "sagemaker":
        codes = sorted(sagemaker_quotas.catalogue(), key=lambda c: sagemaker_quotas.catalogue()[c][0])
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 100)
        page = codes[start : start + size]
        quotas = [sagemaker_quotas.quota(self.region, self.current_account, c, value(self.region, c)) for c in page]
        wanted = params.get("QuotaAppliedAtLevel")
        answer = {"Quotas": quotas if wanted in (None, "ACCOUNT") else []}
        if start + size < len(codes):
            answer["NextToken"] = str(start + size)
        return json.dumps(answer)
    else:
        raise NoSuchResource
    wanted = params.get("QuotaAppliedAtLevel")
    if wanted not in (None, "ACCOUNT"):
        quotas = []
    return json.dumps({"Quotas": quotas})


def _prune_offerings() -> None:
    for (region, zone), types in NOT_OFFERED.items():
        offerings = INSTANCE_TYPE_OFFERINGS["availability-zone"].get(region, [])
        offerings[:] = [o for o in offerings if not (o["Location"] == zone and o["InstanceType"] in types)]


def install() -> None:
    ServiceQuotasBackend.get_service_quota = _get_service_quota
    IamInstanceProfileAssociationBackend.associate_iam_instance_profile = _associate_iam_instance_profile
    ServiceQuotasResponse.list_service_quotas = _list_service_quotas
    _prune_offerings()
    reset()
