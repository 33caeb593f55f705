"""DescribeSpotPriceHistory: the current spot price per zone, derived from the
on-demand prices of prices_data (moto answers a fixed "0.00001").

One row per (zone offering the type, instance type, product description);
the Linux/UNIX price is 30-40 % of the on-demand price, different per zone and
type and the same on every call; other product descriptions add a licence
share. Timestamp: the moment of the call (the price "in effect now"). Honours
InstanceTypes, ProductDescriptions, AvailabilityZone, the filters
availability-zone / instance-type / product-description, MaxResults and
NextToken.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS, INSTANCE_TYPES
from moto.ec2.responses.spot_instances import SpotInstances

from . import prices_data

PRODUCTS = {  # product description -> multiplier of the Linux/UNIX spot price
    "Linux/UNIX": 1.0,
    "Linux/UNIX (Amazon VPC)": 1.0,
    "SUSE Linux": 1.25,
    "Red Hat Enterprise Linux": 1.3,
    "Windows": 1.9,
}
DEFAULT_PRODUCTS = ("Linux/UNIX", "SUSE Linux", "Red Hat Enterprise Linux", "Windows")


def spot_fraction(zone: str, instance_type: str) -> float:
    """0.30 .. 0.40, stable for a (zone, type)."""
    digest = hashlib.sha256(f"spot|{zone}|{instance_type}".encode()).digest()
    return 0.30 + (int.from_bytes(digest[:4], "big") % 1001) / 10000


def spot_price(region: str, zone: str, instance_type: str, product: str = "Linux/UNIX") -> float:
    on_demand, _ = prices_data.ec2_price(region, instance_type)
    return on_demand * spot_fraction(zone, instance_type) * PRODUCTS.get(product, 1.0)


def history(region: str, types: list[str], products: list[str], zone: str | None, filters: dict) -> list[dict]:
    offerings = INSTANCE_TYPE_OFFERINGS["availability-zone"].get(region, [])
    wanted_types = set(types) | set(filters.get("instance-type", []))
    if types and filters.get("instance-type"):
        wanted_types = set(types) & set(filters["instance-type"])
    wanted_products = [p for p in (products or DEFAULT_PRODUCTS) if p in PRODUCTS]
    if filters.get("product-description"):
        wanted_products = [p for p in wanted_products if p in filters["product-description"]]
    zones = set(filters.get("availability-zone", [])) | ({zone} if zone else set())
    now = datetime.now(UTC)
    rows = []
    for o in sorted(offerings, key=lambda o: (o["InstanceType"], o["Location"])):
        itype, where = o["InstanceType"], o["Location"]
        if wanted_types and itype not in wanted_types:
            continue
        if zones and where not in zones:
            continue
        if itype not in INSTANCE_TYPES or "spot" not in INSTANCE_TYPES[itype].get("SupportedUsageClasses", ["spot"]):
            continue
        for product in wanted_products:
            rows.append(
                {
                    "AvailabilityZone": where,
                    "InstanceType": itype,
                    "ProductDescription": product,
                    "SpotPrice": f"{spot_price(region, where, itype, product):.6f}",
                    "Timestamp": now,
                }
            )
    return rows


def _describe_spot_price_history(self) -> ActionResult:
    types = self._get_param("InstanceTypes", []) or []
    products = self._get_param("ProductDescriptions", []) or []
    zone = self._get_param("AvailabilityZone")
    filters = self._filters_from_querystring()
    max_results = self._get_param("MaxResults")
    if max_results is not None and not 1 <= int(max_results) <= 1000:
        raise EC2ClientError(
            "InvalidParameterValue", f"Value ( {max_results} ) for parameter maxResults is invalid. Must be 1-1000."
        )
    rows = history(self.region, list(types), list(products), zone, filters)
    start = int(self._get_param("NextToken") or 0)
    size = int(max_results or 1000)
    page = rows[start : start + size]
    answer: dict = {"SpotPriceHistory": page}
    if start + size < len(rows):
        answer["NextToken"] = str(start + size)
    return ActionResult(answer)


def install() -> None:
    SpotInstances.describe_spot_price_history = _describe_spot_price_history
