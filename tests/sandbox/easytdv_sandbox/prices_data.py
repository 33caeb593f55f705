"""Price List records in AWS's GetProducts format, for the sandbox's `pricing` API.

Each record is what one element of `GetProducts`' `PriceList` holds once
`json.loads`-ed: `{"product": {"productFamily", "attributes", "sku"},
"serviceCode", "terms": {"OnDemand": {"<sku>.JRTCKXETXF": {"priceDimensions":
{"<sku>.JRTCKXETXF.6YS6EN2CT7": {"pricePerUnit": {"USD": "0.0416000000"}, ...}},
...}}, "Reserved": {...}}, "version", "publicationDate"}`.

Where the prices come from (see README "Prices"):
- REAL_EC2 / REAL_SAGEMAKER: AWS's published on-demand list prices (Linux,
  shared tenancy) for the common types, us-east-1 and eu-west-3.
- everything else is DERIVED: a family's price is linear in vCPUs (as AWS
  prices inside a family) from a real size when the family has one; otherwise
  vCPUs x a $/vCPU-hour rate of the family's class letter, adjusted for the
  processor/variant letters (g: Graviton x0.8, a: AMD x0.9, d: local NVMe
  x1.13, n: network x1.25, e: extra memory x1.35, flex x0.95) and generation
  (<=4: x1.05, 7: x1.05, >=8: x1.10); GPU families: GPUs x a per-GPU rate of
  the GPU model + vCPUs x $0.02; then x the region's multiplier.
  SageMaker ml.* = the EC2 price x 1.2 (CPU), x1.4 (g4dn, g5), x1.25 (other
  GPU, p3), x1.15 (p4d, p5), unless listed in REAL_SAGEMAKER.

`python -m easytdv_sandbox.prices_data --write` regenerates the fixture files
in data/prices/ (a self-test checks they match this module).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS, INSTANCE_TYPES

DATA = Path(__file__).resolve().parent / "data" / "prices"
FIXTURE_REGIONS = ("eu-west-3", "us-east-1")
SERVICES = ("AmazonEC2", "AmazonSageMaker")
VERSION, PUBLICATION_DATE, EFFECTIVE_DATE = "20261120143512", "2026-11-20T14:35:12Z", "2026-11-01T00:00:00Z"
ON_DEMAND_TERM, HOURLY_RATE, RESERVED_TERM = "JRTCKXETXF", "6YS6EN2CT7", "4NA7Y494T4"  # AWS's own codes

REGIONS = {  # code -> (location, usage type prefix, price multiplier vs us-east-1, gp3 $/GB-month)
    "us-east-1": ("US East (N. Virginia)", "", 1.0, 0.08),
    "us-east-2": ("US East (Ohio)", "USE2-", 1.0, 0.08),
    "us-west-1": ("US West (N. California)", "USW1-", 1.17, 0.096),
    "us-west-2": ("US West (Oregon)", "USW2-", 1.0, 0.08),
    "ca-central-1": ("Canada (Central)", "CAN1-", 1.11, 0.088),
    "ca-west-1": ("Canada West (Calgary)", "CAN2-", 1.11, 0.088),
    "eu-west-1": ("EU (Ireland)", "EU-", 1.11, 0.088),
    "eu-west-2": ("EU (London)", "EUW2-", 1.16, 0.0928),
    "eu-west-3": ("EU (Paris)", "EUW3-", 1.1667, 0.0928),
    "eu-central-1": ("EU (Frankfurt)", "EUC1-", 1.2, 0.0952),
    "eu-central-2": ("EU (Zurich)", "EUC2-", 1.32, 0.1047),
    "eu-north-1": ("EU (Stockholm)", "EUN1-", 1.06, 0.0836),
    "eu-south-1": ("EU (Milan)", "EUS1-", 1.17, 0.0924),
    "eu-south-2": ("EU (Spain)", "EUS2-", 1.11, 0.088),
    "ap-south-1": ("Asia Pacific (Mumbai)", "APS3-", 1.06, 0.0912),
    "ap-south-2": ("Asia Pacific (Hyderabad)", "APS5-", 1.06, 0.0912),
    "ap-northeast-1": ("Asia Pacific (Tokyo)", "APN1-", 1.29, 0.096),
    "ap-northeast-2": ("Asia Pacific (Seoul)", "APN2-", 1.23, 0.0912),
    "ap-northeast-3": ("Asia Pacific (Osaka)", "APN3-", 1.29, 0.096),
    "ap-southeast-1": ("Asia Pacific (Singapore)", "APS1-", 1.25, 0.096),
    "ap-southeast-2": ("Asia Pacific (Sydney)", "APS2-", 1.25, 0.096),
    "ap-southeast-3": ("Asia Pacific (Jakarta)", "APS4-", 1.25, 0.096),
    "ap-southeast-4": ("Asia Pacific (Melbourne)", "APS6-", 1.25, 0.096),
    "ap-southeast-5": ("Asia Pacific (Malaysia)", "APS7-", 1.2, 0.0912),
    "ap-east-1": ("Asia Pacific (Hong Kong)", "APE1-", 1.38, 0.1056),
    "sa-east-1": ("South America (Sao Paulo)", "SAE1-", 1.6, 0.152),
    "me-south-1": ("Middle East (Bahrain)", "MES1-", 1.22, 0.0968),
    "me-central-1": ("Middle East (UAE)", "MEC1-", 1.22, 0.0968),
    "il-central-1": ("Israel (Tel Aviv)", "ILC1-", 1.15, 0.0912),
    "af-south-1": ("Africa (Cape Town)", "AFS1-", 1.31, 0.1047),
}

# Real on-demand Linux $/hour. A family given by one "rate" is linear in vCPUs
# (AWS prices every size of these families at the same $/vCPU-hour).
REAL_EC2_RATES = {  # region -> family -> $/vCPU-hour
    "us-east-1": {
        "m5": 0.048,
        "m6i": 0.048,
        "m7i": 0.0504,
        "c5": 0.0425,
        "c6i": 0.0425,
        "c7i": 0.044625,
        "r5": 0.063,
        "r6i": 0.063,
    },
    "eu-west-3": {
        "m5": 0.056,
        "m6i": 0.056,
        "m7i": 0.0588,
        "c5": 0.0505,
        "c6i": 0.0505,
        "c7i": 0.053025,
        "r5": 0.074,
        "r6i": 0.074,
    },
}
T3_SIZES = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge")
REAL_EC2 = {  # region -> type -> $/hour (burstable and GPU families are not linear in vCPUs)
    "eu-west-3": dict(
        zip((f"t3.{s}" for s in T3_SIZES), (0.0059, 0.0118, 0.0236, 0.0472, 0.0944, 0.1888, 0.3776), strict=True)
    ),
    "us-east-1": {
        **dict(
            zip((f"t3.{s}" for s in T3_SIZES), (0.0052, 0.0104, 0.0208, 0.0416, 0.0832, 0.1664, 0.3328), strict=True)
        ),
        "g4dn.xlarge": 0.526,
        "g4dn.2xlarge": 0.752,
        "g4dn.4xlarge": 1.204,
        "g4dn.8xlarge": 2.176,
        "g4dn.12xlarge": 3.912,
        "g4dn.16xlarge": 4.352,
        "g4dn.metal": 7.824,
        "g5.xlarge": 1.006,
        "g5.2xlarge": 1.212,
        "g5.4xlarge": 1.624,
        "g5.8xlarge": 2.448,
        "g5.12xlarge": 5.672,
        "g5.16xlarge": 4.096,
        "g5.24xlarge": 8.144,
        "g5.48xlarge": 16.288,
        "g6.xlarge": 0.8048,
        "g6.2xlarge": 0.9776,
        "g6.4xlarge": 1.3232,
        "g6.8xlarge": 2.0144,
        "g6.12xlarge": 4.6016,
        "g6.16xlarge": 3.3968,
        "g6.24xlarge": 6.6752,
        "g6.48xlarge": 13.3504,
        "p3.2xlarge": 3.06,
        "p3.8xlarge": 12.24,
        "p3.16xlarge": 24.48,
        "p4d.24xlarge": 21.9576,
        "p5.48xlarge": 55.04,
    },
}
REAL_SAGEMAKER = {  # region -> ml type -> $/hour, component Training
    "us-east-1": {
        "ml.m5.large": 0.115,
        "ml.m5.xlarge": 0.23,
        "ml.m5.2xlarge": 0.461,
        "ml.m5.4xlarge": 0.922,
        "ml.m5.12xlarge": 2.765,
        "ml.m5.24xlarge": 5.53,
        "ml.c5.xlarge": 0.204,
        "ml.c5.2xlarge": 0.408,
        "ml.c5.4xlarge": 0.816,
        "ml.c5.9xlarge": 1.836,
        "ml.c5.18xlarge": 3.672,
        "ml.g4dn.xlarge": 0.736,
        "ml.g4dn.2xlarge": 0.94,
        "ml.g4dn.4xlarge": 1.505,
        "ml.g4dn.8xlarge": 2.72,
        "ml.g4dn.12xlarge": 4.89,
        "ml.g4dn.16xlarge": 5.44,
        "ml.g5.xlarge": 1.408,
        "ml.g5.2xlarge": 1.515,
        "ml.g5.4xlarge": 2.03,
        "ml.g5.8xlarge": 3.06,
        "ml.g5.12xlarge": 7.09,
        "ml.g5.16xlarge": 5.12,
        "ml.g5.24xlarge": 10.18,
        "ml.g5.48xlarge": 20.36,
        "ml.p3.2xlarge": 3.825,
        "ml.p3.8xlarge": 14.688,
        "ml.p3.16xlarge": 28.152,
        "ml.p4d.24xlarge": 37.688,
        "ml.p5.48xlarge": 63.296,
    },
}
CLASS_RATES = {  # derived: $/vCPU-hour in us-east-1 by the family's class letters
    "t": 0.0208,
    "m": 0.048,
    "c": 0.0425,
    "r": 0.063,
    "x": 0.104,
    "z": 0.093,
    "i": 0.078,
    "im": 0.078,
    "is": 0.078,
    "d": 0.1725,
    "h": 0.0585,
    "u": 0.061,
    "a": 0.0255,
    "hpc": 0.03,
    "vt": 0.054,
    "f": 0.206,
    "inf": 0.057,
    "trn": 0.168,
    "dl": 0.136,
    "mac": 0.09,
}
GPU_RATES = {  # derived: $/GPU-hour by GPU model
    "T4": 0.38,
    "T4g": 0.35,
    "A10G": 0.9,
    "L4": 0.66,
    "L40S": 1.55,
    "V100": 2.8,
    "A100": 2.6,
    "H100": 6.88,
    "H200": 7.9,
    "B200": 8.6,
    "B300": 9.5,
    "RTX PRO 4500": 1.2,
    "RTX PRO Server 6000": 2.4,
}
SAGEMAKER_RATIO = {"g4dn": 1.4, "g5": 1.4, "p4d": 1.15, "p4de": 1.15, "p5": 1.15, "p5e": 1.15, "p5en": 1.15}
PREVIOUS_GENERATION = {"t1", "t2", "m1", "m2", "m3", "m4", "c1", "c3", "c4", "r3", "r4", "i2", "d2", "g2", "g3", "g3s"}
PREVIOUS_GENERATION |= {"p2", "x1", "x1e", "cr1", "cc2", "hs1", "a1", "f1", "inf1", "p3", "p3dn", "g4ad"}
SIZE_FACTORS = {"nano": 0.25, "micro": 0.5, "small": 1, "medium": 2, "large": 4, "xlarge": 8}


def _family_parts(family: str) -> tuple[str, int | None, str]:
    """`m7i-flex` -> ("m", 7, "i-flex"); `u7in-16tb` -> ("u", 7, "in-16tb"); `hpc6id` -> ("hpc", 6, "id")."""
    m = re.match(r"([a-z]+?)(\d+)?([a-z0-9-]*)$", family)
    if not m:
        return family, None, ""
    letters, gen, rest = m.group(1), m.group(2), m.group(3)
    for known in ("hpc", "inf", "trn", "mac", "dl", "vt", "im", "is", "gr", "u"):
        if family.startswith(known) and letters.startswith(known):
            letters = known
    return letters, int(gen) if gen else None, rest


def vcpus(itype: str) -> int:
    return int(INSTANCE_TYPES[itype]["VCpuInfo"]["DefaultVCpus"])


def _gpus(info: dict) -> list[dict]:
    return info.get("GpuInfo", {}).get("Gpus", [])


def _derived_ec2_us(itype: str) -> float:
    info = INSTANCE_TYPES[itype]
    family = itype.split(".", 1)[0]
    letters, gen, rest = _family_parts(family)
    gpus = _gpus(info)
    if gpus:
        return sum(g["Count"] * GPU_RATES.get(g["Name"], 1.0) for g in gpus) + 0.02 * vcpus(itype)
    rate = CLASS_RATES.get(letters, CLASS_RATES.get(letters[:1], 0.05))
    if letters == "t":  # burstable: priced by size (normalization factor), not vCPUs
        rate = rate * float(_size_factor(itype)) / vcpus(itype)
    variant = rest.split("-", 1)[0]
    mult = 1.0
    mult *= 0.8 if "g" in variant else 0.9 if "a" in variant else 1.0
    mult *= 1.13 if "d" in variant else 1.0
    mult *= 1.25 if "n" in variant else 1.0
    mult *= 1.35 if "e" in variant else 1.0
    mult *= 0.95 if "flex" in rest else 1.0
    if gen is not None:
        mult *= 1.05 if gen <= 4 or gen == 7 else 1.10 if gen >= 8 else 1.0
    return vcpus(itype) * rate * mult


def ec2_price(region: str, itype: str) -> tuple[float, bool]:
    """($/hour, real?) for Linux on-demand, shared tenancy."""
    family = itype.split(".", 1)[0]
    if itype in REAL_EC2.get(region, {}):
        return REAL_EC2[region][itype], True
    if family in REAL_EC2_RATES.get(region, {}):
        return round(REAL_EC2_RATES[region][family] * vcpus(itype), 6), True
    mult = REGIONS.get(region, (None, None, 1.2, None))[2]
    if itype in REAL_EC2["us-east-1"]:
        return round(REAL_EC2["us-east-1"][itype] * mult, 4), False
    if family in REAL_EC2_RATES["us-east-1"]:
        return round(REAL_EC2_RATES["us-east-1"][family] * vcpus(itype) * mult, 4), False
    return round(max(_derived_ec2_us(itype) * mult, 0.0026), 4), False


def sagemaker_price(region: str, ml_type: str) -> tuple[float, bool]:
    if ml_type in REAL_SAGEMAKER.get(region, {}):
        return REAL_SAGEMAKER[region][ml_type], True
    mult = REGIONS.get(region, (None, None, 1.2, None))[2]
    if ml_type in REAL_SAGEMAKER["us-east-1"]:
        return round(REAL_SAGEMAKER["us-east-1"][ml_type] * mult, 4), False
    itype = ml_type[3:]
    family = itype.split(".", 1)[0]
    ratio = SAGEMAKER_RATIO.get(family, 1.25 if _gpus(INSTANCE_TYPES[itype]) else 1.2)
    return round(ec2_price(region, itype)[0] * ratio, 4), False


def _sku(*parts: str) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:16])


def _usd(value: float) -> str:
    return f"{value:.10f}"


def _terms(sku: str, unit: str, price: float, description: str, reserved: float | None = None) -> dict:
    terms = {
        "OnDemand": {
            f"{sku}.{ON_DEMAND_TERM}": {
                "priceDimensions": {
                    f"{sku}.{ON_DEMAND_TERM}.{HOURLY_RATE}": {
                        "unit": unit,
                        "endRange": "Inf",
                        "description": description,
                        "appliesTo": [],
                        "rateCode": f"{sku}.{ON_DEMAND_TERM}.{HOURLY_RATE}",
                        "beginRange": "0",
                        "pricePerUnit": {"USD": _usd(price)},
                    }
                },
                "sku": sku,
                "effectiveDate": EFFECTIVE_DATE,
                "offerTermCode": ON_DEMAND_TERM,
                "termAttributes": {},
            }
        }
    }
    if reserved is not None:
        terms["Reserved"] = {
            f"{sku}.{RESERVED_TERM}": {
                "priceDimensions": {
                    f"{sku}.{RESERVED_TERM}.{HOURLY_RATE}": {
                        "unit": unit,
                        "endRange": "Inf",
                        "description": "Linux/UNIX (Amazon VPC), reserved instance applied",
                        "appliesTo": [],
                        "rateCode": f"{sku}.{RESERVED_TERM}.{HOURLY_RATE}",
                        "beginRange": "0",
                        "pricePerUnit": {"USD": _usd(reserved)},
                    }
                },
                "sku": sku,
                "effectiveDate": EFFECTIVE_DATE,
                "offerTermCode": RESERVED_TERM,
                "termAttributes": {
                    "LeaseContractLength": "1yr",
                    "OfferingClass": "standard",
                    "PurchaseOption": "No Upfront",
                },
            }
        }
    return terms


def _record(service: str, family: str, sku: str, attributes: dict, terms: dict) -> dict:
    return {
        "product": {"productFamily": family, "attributes": attributes, "sku": sku},
        "serviceCode": service,
        "terms": terms,
        "version": VERSION,
        "publicationDate": PUBLICATION_DATE,
    }


def _instance_family(itype: str) -> str:
    letters = _family_parts(itype.split(".", 1)[0])[0]
    if _gpus(INSTANCE_TYPES[itype]) or letters in ("p", "g", "gr"):
        return "GPU instance"
    return {
        "c": "Compute optimized",
        "r": "Memory optimized",
        "x": "Memory optimized",
        "z": "Memory optimized",
        "u": "Memory optimized",
        "i": "Storage optimized",
        "im": "Storage optimized",
        "is": "Storage optimized",
        "d": "Storage optimized",
        "h": "Storage optimized",
        "f": "FPGA Instances",
        "inf": "Machine Learning ASIC Instances",
        "trn": "Machine Learning ASIC Instances",
        "dl": "Machine Learning ASIC Instances",
        "vt": "Media Accelerator Instances",
        "hpc": "Compute optimized",
    }.get(letters, "General purpose")


def _storage(info: dict) -> str:
    disks = info.get("InstanceStorageInfo", {}).get("Disks", [])
    if not disks:
        return "EBS only"
    d = disks[0]
    kind = "NVMe SSD" if info["InstanceStorageInfo"].get("NvmeSupport") == "required" else d["Type"].upper()
    return f"{d['Count']} x {d['SizeInGB']} {kind}"


def _memory(mib: int) -> str:
    gib = mib / 1024
    return f"{gib:g} GiB"


def _size_factor(itype: str) -> str:
    size = itype.split(".", 1)[1]
    if size in SIZE_FACTORS:
        return f"{SIZE_FACTORS[size]:g}"
    m = re.match(r"(\d+)xlarge$", size)
    if m:
        return f"{8 * int(m.group(1)):g}"
    return f"{vcpus(itype) * 2:g}"  # metal and the like: 8 per 4 vCPUs


def _processor(info: dict) -> tuple[str, str]:
    maker = info.get("ProcessorInfo", {}).get("Manufacturer", "Intel")
    if maker == "AWS":
        return "AWS Graviton Processor", "None"
    if maker == "AMD":
        return "AMD EPYC", "AMD Turbo; AVX; AVX2"
    if maker == "Apple":
        return "Apple M-series", "None"
    return "Intel Xeon Family", "Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo"


def ec2_record(region: str, itype: str) -> dict:
    location, prefix, _, _ = REGIONS.get(region, (region, f"{region.upper()}-", 1.2, 0.1))
    info = INSTANCE_TYPES[itype]
    price, _ = ec2_price(region, itype)
    sku = _sku("ec2", region, itype)
    processor, features = _processor(info)
    gpus = _gpus(info)
    family = itype.split(".", 1)[0]
    clock = info.get("ProcessorInfo", {}).get("SustainedClockSpeedInGhz")
    ebs_mbps = info.get("EbsInfo", {}).get("EbsOptimizedInfo", {}).get("MaximumBandwidthInMbps", "NA")
    attributes = {
        "enhancedNetworkingSupported": "Yes"
        if info.get("NetworkInfo", {}).get("EnaSupport") != "unsupported"
        else "No",
        "intelTurboAvailable": "Yes" if processor.startswith("Intel") else "No",
        "memory": _memory(info["MemoryInfo"]["SizeInMiB"]),
        "dedicatedEbsThroughput": f"Up to {ebs_mbps} Mbps",
        "vcpu": str(vcpus(itype)),
        "classicnetworkingsupport": "false",
        "capacitystatus": "Used",
        "locationType": "AWS Region",
        "storage": _storage(info),
        "instanceFamily": _instance_family(itype),
        "operatingSystem": "Linux",
        "intelAvx2Available": "Yes" if processor.startswith("Intel") else "No",
        "regionCode": region,
        "physicalProcessor": processor,
        "clockSpeed": f"{clock:g} GHz" if clock else "NA",
        "ecu": "Variable" if family.startswith("t") else "NA",
        "networkPerformance": info.get("NetworkInfo", {}).get("NetworkPerformance", "NA"),
        "servicename": "Amazon Elastic Compute Cloud",
        "gpuMemory": f"{info['GpuInfo']['TotalGpuMemoryInMiB'] // 1024} GiB" if gpus else "NA",
        "vpcnetworkingsupport": "true",
        "instanceType": itype,
        "tenancy": "Shared",
        "usagetype": f"{prefix}BoxUsage:{itype}",
        "normalizationSizeFactor": _size_factor(itype),
        "intelAvxAvailable": "Yes" if processor.startswith("Intel") else "No",
        "processorFeatures": features,
        "servicecode": "AmazonEC2",
        "licenseModel": "No License required",
        "currentGeneration": "No" if family in PREVIOUS_GENERATION else "Yes",
        "preInstalledSw": "NA",
        "location": location,
        "processorArchitecture": "64-bit",
        "marketoption": "OnDemand",
        "operation": "RunInstances",
        "availabilityzone": "NA",
    }
    if gpus:
        attributes["gpu"] = str(sum(g["Count"] for g in gpus))
    description = f"${price:g} per On Demand Linux {itype} Instance Hour"
    return _record(
        "AmazonEC2", "Compute Instance", sku, attributes, _terms(sku, "Hrs", price, description, round(price * 0.63, 4))
    )


def ebs_records(region: str) -> list[dict]:
    """gp3: storage (GB-Mo), IOPS above 3,000 (IOPS-Mo), throughput above 125 MiB/s (GiBps-mo)."""
    location, prefix, _, gp3 = REGIONS.get(region, (region, f"{region.upper()}-", 1.2, 0.1))
    ratio = gp3 / 0.08
    common = {
        "locationType": "AWS Region",
        "regionCode": region,
        "servicecode": "AmazonEC2",
        "location": location,
        "servicename": "Amazon Elastic Compute Cloud",
        "volumeApiName": "gp3",
    }
    storage_sku, iops_sku, tput_sku = (_sku("ebs", region, k) for k in ("storage", "iops", "throughput"))
    storage = {
        **common,
        "maxThroughputvolume": "1000 MiB/s",
        "volumeType": "General Purpose",
        "maxIopsvolume": "16000",
        "usagetype": f"{prefix}EBS:VolumeUsage.gp3",
        "maxVolumeSize": "16 TiB",
        "storageMedia": "SSD-backed",
        "operation": "",
    }
    iops = {**common, "group": "EBS IOPS", "groupDescription": "IOPS", "provisioned": "Yes"}
    iops.update(usagetype=f"{prefix}EBS:VolumeP-IOPS.gp3", operation="")
    tput = {**common, "group": "EBS Throughput", "groupDescription": "Throughput", "provisioned": "Yes"}
    tput.update(usagetype=f"{prefix}EBS:VolumeP-Throughput.gp3", operation="")
    return [
        _record(
            "AmazonEC2",
            "Storage",
            storage_sku,
            storage,
            _terms(
                storage_sku,
                "GB-Mo",
                gp3,
                f"${gp3:g} per GB-month of General Purpose (gp3) provisioned storage - {location}",
            ),
        ),
        _record(
            "AmazonEC2",
            "System Operation",
            iops_sku,
            iops,
            _terms(iops_sku, "IOPS-Mo", round(0.005 * ratio, 6), f"${0.005 * ratio:.4g} per IOPS-month provisioned"),
        ),
        _record(
            "AmazonEC2",
            "Provisioned Throughput",
            tput_sku,
            tput,
            _terms(tput_sku, "GiBps-mo", round(40.96 * ratio, 4), f"${40.96 * ratio:.4g} per GiBps-month provisioned"),
        ),
    ]


def training_instance_types() -> list[str]:
    """ml.* types CreateTrainingJob accepts (botocore's TrainingInstanceType enum)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return list(model.shape_for("TrainingInstanceType").enum)


def sagemaker_record(region: str, ml_type: str) -> dict:
    location, _, _, _ = REGIONS.get(region, (region, f"{region.upper()}-", 1.2, 0.1))
    prefix = REGIONS.get(region, (None, "", None, None))[1] or "USE1-"
    itype = ml_type[3:]
    info = INSTANCE_TYPES[itype]
    price, _ = sagemaker_price(region, ml_type)
    sku = _sku("sagemaker", region, ml_type, "Training")
    gpus = _gpus(info)
    attributes = {
        "computeType": "Accelerated Computing" if gpus else "Standard",
        "vCpu": str(vcpus(itype)),
        "memory": _memory(info["MemoryInfo"]["SizeInMiB"]),
        "gpu": str(sum(g["Count"] for g in gpus)) if gpus else "0",
        "gpuMemory": str(info["GpuInfo"]["TotalGpuMemoryInMiB"] // 1024) if gpus else "0",
        "physicalGpu": gpus[0]["Name"] if gpus else "N/A",
        "networkPerformance": info.get("NetworkInfo", {}).get("NetworkPerformance", "NA"),
        "component": "Training",
        "currentGeneration": "No" if itype.split(".", 1)[0] in PREVIOUS_GENERATION else "Yes",
        "instanceName": ml_type,
        "instanceType": f"{ml_type}-Training",
        "location": location,
        "locationType": "AWS Region",
        "operation": "RunInstance",
        "processorArchitecture": "64-bit",
        "regionCode": region,
        "servicecode": "AmazonSageMaker",
        "servicename": "Amazon SageMaker",
        "usagetype": f"{prefix}Train:{ml_type}",
    }
    description = f"${price:g} per Hour for {ml_type} in Training"
    return _record("AmazonSageMaker", "ML Instance", sku, attributes, _terms(sku, "Hrs", price, description))


def offered_types(region: str) -> list[str]:
    """The types DescribeInstanceTypeOfferings lists in the region (moto's data)."""
    return sorted({o["InstanceType"] for o in INSTANCE_TYPE_OFFERINGS["region"].get(region, [])} & set(INSTANCE_TYPES))


def generate(service: str, region: str) -> list[dict]:
    if service == "AmazonEC2":
        return [ec2_record(region, t) for t in offered_types(region)] + ebs_records(region)
    if service == "AmazonSageMaker":
        offered = set(offered_types(region))
        return [sagemaker_record(region, t) for t in training_instance_types() if t[3:] in offered]
    return []


def fixture_path(service: str, region: str) -> Path:
    return DATA / f"{service}-{region}.jsonl.gz"


def encode(record: dict) -> str:
    """One PriceList element, compact JSON as AWS sends it."""
    return json.dumps(record, separators=(",", ":"))


@lru_cache(maxsize=64)
def price_list(service: str, region: str) -> tuple[tuple[dict, str], ...]:
    """(record, PriceList string) pairs: from the fixture file, else generated."""
    path = fixture_path(service, region)
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
    else:
        lines = [encode(r) for r in generate(service, region)]
    return tuple((json.loads(line), line) for line in lines)


def write_fixtures() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        for region in FIXTURE_REGIONS:
            text = "".join(encode(r) + "\n" for r in generate(service, region))
            with gzip.GzipFile(fixture_path(service, region), "wb", mtime=0) as f:
                f.write(text.encode())


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_fixtures()
    else:
        print("usage: python -m easytdv_sandbox.prices_data --write", file=sys.stderr)
        sys.exit(2)
