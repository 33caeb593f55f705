"""AWS public SSM parameters for the AMIs easyTDV uses resolve, in every
region, to images that DescribeImages finds.

moto ships the Amazon Linux ones (and their AMIs) for most regions; the Deep
Learning AMI parameters (x86_64, arm64), and any region moto lacks, get a
synthetic image."""

from __future__ import annotations

import hashlib
from collections import defaultdict

from moto.core.utils import utcnow
from moto.ec2.models.amis import Ami, AmiBackend
from moto.ssm.models import Parameter, ParameterDict

AL = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-"
DLAMI = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
DLAMI_ARM = "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
AMAZON_OWNER = "137112412989"
# parameter -> (image name, architecture, description)
IMAGES = {
    AL + "x86_64": (
        "al2023-ami-2023.9.20261101.0-kernel-6.1-x86_64",
        "x86_64",
        "Amazon Linux 2023 AMI (sandbox) x86_64 HVM kernel-6.1",
    ),
    AL + "arm64": (
        "al2023-ami-2023.9.20261101.0-kernel-6.1-arm64",
        "arm64",
        "Amazon Linux 2023 AMI (sandbox) arm64 HVM kernel-6.1",
    ),
    DLAMI: (
        "Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023) 20261101",
        "x86_64",
        "Supported EC2 instances: G4dn, G5, G6, Gr6, G6e, P4d, P4de, P5. (sandbox)",
    ),
    DLAMI_ARM: (
        "Deep Learning ARM64 Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023) 20261101",
        "arm64",
        "Supported EC2 instances: G5g. (sandbox)",
    ),
}


def synthetic_id(region: str, param: str) -> str:
    return "ami-0" + hashlib.sha1(f"{region}{param}".encode()).hexdigest()[:16]


_orig_check = ParameterDict._check_loading_status
_orig_load_amis = AmiBackend._load_amis


def _check_loading_status(self, key) -> None:
    _orig_check(self, key)
    if not str(key or "").startswith("/aws/service/") or getattr(self, "_sandbox_amis", False):
        return
    self._sandbox_amis = True
    _orig_check(self, AL)  # let moto load its real Amazon Linux parameters first
    for name in IMAGES:
        if not dict.__contains__(self, name):
            defaultdict.__getitem__(self, name).append(
                Parameter(
                    account_id=self.account_id,
                    name=name,
                    value=synthetic_id(self.region_name, name),
                    parameter_type="String",
                    description=None,
                    allowed_pattern=None,
                    keyid=None,
                    last_modified_date=utcnow(),
                    version=1,
                    data_type="aws:ec2:image",
                )
            )


def _load_amis(self) -> None:
    _orig_load_amis(self)
    for param, (name, arch, description) in IMAGES.items():
        ami_id = synthetic_id(self.region_name, param)
        self.amis[ami_id] = Ami(
            self,
            ami_id=ami_id,
            name=name,
            description=description,
            owner_id=AMAZON_OWNER,
            owner_alias="amazon",
            public=True,
            virtualization_type="hvm",
            architecture=arch,
            hypervisor="xen",
            root_device_type="ebs",
            root_device_name="/dev/xvda",
            boot_mode="uefi-preferred",
        )


def install() -> None:
    ParameterDict._check_loading_status = _check_loading_status
    AmiBackend._load_amis = _load_amis
