"""The AWS Price List Query API (`pricing`, JSON 1.1, target prefix
`AWSPriceListService`), which moto lacks: GetProducts, DescribeServices,
GetAttributeValues, answered from the records in prices_data (fixture files
for eu-west-3 and us-east-1, generated the same way for other regions).

Answered only for requests signed for a region where AWS has a Price List
endpoint (us-east-1, eu-central-1, ap-south-1); any other region gets
`UnknownEndpoint` (on AWS, `api.pricing.<region>.amazonaws.com` does not
resolve: a client built with the run's region fails there too). Any of them
answers for every region (`regionCode` filter). `POST /easytdv-api/pricing {"fail": "ThrottlingException"}`
makes the calls fail until cleared (`{"fail": null}`) or `count` calls failed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading

from . import gateway, prices_data

FORMAT_VERSION = "aws_v1"
FILTER_TYPES = ("TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF")
ERRORS = {  # code -> (HTTP status, message)
    "ThrottlingException": (400, "Rate exceeded"),
    "InternalErrorException": (500, "An error occurred on the server side."),
    "AccessDeniedException": (400, "User is not authorized to perform: pricing:GetProducts"),
    "NotFoundException": (400, "The requested resource was not found."),
    "InvalidParameterException": (400, "An invalid parameter was given."),
    "ExpiredNextTokenException": (400, "The pagination token expired."),
}
ENDPOINT_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")
_lock = threading.Lock()
FAILURE: dict = {}  # {"code", "count" (None: until cleared), "operation"}


@gateway.hook("pricing")
def _pricing_hook(method: str, data: dict) -> tuple[int, dict]:
    """POST {"fail": "ThrottlingException" | null, "count": N (optional), "operation": "GetProducts" | "*"}."""
    if method == "POST":
        code = data.get("fail")
        with _lock:
            FAILURE.clear()
            if code:
                if code not in ERRORS:
                    raise ValueError(f"unknown error {code!r} (known: {', '.join(ERRORS)})")
                count = data.get("count")
                if count is not None and int(count) < 1:
                    raise ValueError("count is >= 1 (or absent: until cleared)")
                FAILURE.update(
                    code=code,
                    count=None if count is None else int(count),
                    operation=str(data.get("operation") or "GetProducts"),
                )
    with _lock:
        return 200, {"failure": dict(FAILURE) or None}


def reset() -> None:
    with _lock:
        FAILURE.clear()


class PricingError(Exception):
    def __init__(self, code: str, message: str | None = None, status: int | None = None):
        default_status, default_message = ERRORS.get(code, (400, code))
        super().__init__(message or default_message)
        self.code, self.message, self.status = code, message or default_message, status or default_status


def _injected_failure(operation: str) -> PricingError | None:
    with _lock:
        if not FAILURE or FAILURE["operation"] not in ("*", operation):
            return None
        code = FAILURE["code"]
        if FAILURE["count"] is not None:
            FAILURE["count"] -= 1
            if FAILURE["count"] <= 0:
                FAILURE.clear()
    return PricingError(code)


def _field_value(record: dict, field: str) -> str | None:
    low = field.lower()
    if low == "productfamily":
        return record["product"].get("productFamily")
    if low == "sku":
        return record["product"].get("sku")
    if low == "servicecode":
        return record.get("serviceCode")
    attributes = record["product"]["attributes"]
    if field in attributes:
        return attributes[field]
    return next((v for k, v in attributes.items() if k.lower() == low), None)


def _matches(record: dict, f: dict) -> bool:
    value = _field_value(record, f["Field"])
    want = f["Value"]
    kind = f["Type"]
    if kind in ("TERM_MATCH", "EQUALS"):
        return value == want
    if kind == "CONTAINS":
        return value is not None and want in value
    options = [v.strip() for v in want.split(",")]
    if kind == "ANY_OF":
        return value in options
    return value not in options  # NONE_OF


def _validation(message: str) -> PricingError:
    return PricingError("InvalidParameterException", message)


def _max_results(params: dict, default: int, top: int) -> int:
    value = params.get("MaxResults", default)
    if not isinstance(value, int) or not 1 <= value <= top:
        raise _validation(
            f"1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value between 1 and {top}"
        )
    return value


def _page(items: list, params: dict, query: object, default: int, top: int) -> tuple[list, str | None]:
    size = _max_results(params, default, top)
    digest = hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:16]
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
            start = int(decoded["o"])
            if decoded["q"] != digest or start < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise PricingError("InvalidNextTokenException", "The pagination token is invalid.") from None
    end = start + size
    next_token = None
    if end < len(items):
        next_token = base64.urlsafe_b64encode(json.dumps({"o": end, "q": digest}).encode()).decode()
    return items[start:end], next_token


def _service(params: dict) -> str:
    code = params.get("ServiceCode")
    if not code:
        raise _validation(
            "1 validation error detected: Value null at 'serviceCode' failed to satisfy constraint: "
            "Member must not be null"
        )
    if code not in prices_data.SERVICES:
        raise PricingError("NotFoundException", f"Service code {code} is not found.")
    return code


def _regions(filters: list[dict]) -> list[str]:
    """The regions a query can match: its regionCode (or location) filter's, else the fixture regions."""
    by_location = {v[0]: k for k, v in prices_data.REGIONS.items()}
    for f in filters:
        low = f["Field"].lower()
        if f["Type"] in ("TERM_MATCH", "EQUALS", "ANY_OF") and low in ("regioncode", "location"):
            values = [v.strip() for v in f["Value"].split(",")] if f["Type"] == "ANY_OF" else [f["Value"]]
            if low == "location":
                values = [by_location[v] for v in values if v in by_location]
            return [v for v in values if v in prices_data.REGIONS]
    return list(prices_data.FIXTURE_REGIONS)


def get_products(params: dict) -> dict:
    service = _service(params)
    filters = params.get("Filters") or []
    for f in filters:
        if not isinstance(f, dict) or not all(isinstance(f.get(k), str) for k in ("Type", "Field", "Value")):
            raise _validation("Each filter needs Type, Field and Value.")
        if f["Type"] not in FILTER_TYPES:
            raise _validation(
                f"1 validation error detected: Value '{f['Type']}' at 'filters.member.type' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(FILTER_TYPES)}]"
            )
    found = [
        text
        for region in _regions(filters)
        for record, text in prices_data.price_list(service, region)
        if all(_matches(record, f) for f in filters)
    ]
    page, token = _page(found, params, [service, filters], 100, 100)
    answer = {"FormatVersion": FORMAT_VERSION, "PriceList": page}
    if token:
        answer["NextToken"] = token
    return answer


def _attribute_names(service: str) -> list[str]:
    names = set()
    for region in prices_data.FIXTURE_REGIONS:
        for record, _ in prices_data.price_list(service, region):
            names.update(record["product"]["attributes"])
    return sorted(names | {"productFamily"})


def describe_services(params: dict) -> dict:
    codes = [params["ServiceCode"]] if params.get("ServiceCode") else list(prices_data.SERVICES)
    services = [{"ServiceCode": c, "AttributeNames": _attribute_names(c)} for c in codes if c in prices_data.SERVICES]
    page, token = _page(services, params, ["services", codes], 100, 100)
    answer = {"Services": page, "FormatVersion": FORMAT_VERSION}
    if token:
        answer["NextToken"] = token
    return answer


def get_attribute_values(params: dict) -> dict:
    service = _service(params)
    name = params.get("AttributeName") or ""
    values = set()
    for region in prices_data.FIXTURE_REGIONS:
        for record, _ in prices_data.price_list(service, region):
            value = _field_value(record, name)
            if value is not None:
                values.add(value)
    page, token = _page([{"Value": v} for v in sorted(values)], params, [service, name], 100, 100)
    answer = {"AttributeValues": page}
    if token:
        answer["NextToken"] = token
    return answer


OPERATIONS = {
    "GetProducts": get_products,
    "DescribeServices": describe_services,
    "GetAttributeValues": get_attribute_values,
}


def handle(operation: str, body: bytes, region: str = "us-east-1") -> tuple[int, dict, str]:
    """(status, JSON answer, error code or "") for one pricing request signed for `region`."""
    try:
        if region not in ENDPOINT_REGIONS:
            raise PricingError(
                "UnknownEndpoint",
                f"The Price List API has no endpoint in {region} (AWS: api.pricing.{region}.amazonaws.com does not "
                f"resolve). Use one of {', '.join(ENDPOINT_REGIONS)}; each answers for every region.",
                400,
            )
        fn = OPERATIONS.get(operation)
        if fn is None:
            raise PricingError("InvalidParameterException", f"The sandbox does not emulate pricing:{operation}.")
        failure = _injected_failure(operation)
        if failure:
            raise failure
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise PricingError("SerializationException", "Could not parse the request body.", 400) from None
        return 200, fn(params if isinstance(params, dict) else {}), ""
    except PricingError as e:
        return e.status, {"__type": e.code, "Message": e.message}, e.code


def wsgi_answer(start_response, operation: str, body: bytes, region: str) -> tuple[list[bytes], int, str]:
    status, answer, code = handle(operation, body, region)
    data = json.dumps(answer).encode()
    reason = {200: "OK", 400: "Bad Request", 500: "Internal Server Error"}.get(status, "Error")
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
    headers.append(("x-amzn-RequestId", hashlib.sha1(data).hexdigest()[:32]))
    if code:
        headers.append(("x-amzn-ErrorType", code))
    start_response(f"{status} {reason}", headers)
    return [data], status, code
