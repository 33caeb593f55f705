"""The Price List API (pricing:GetProducts and friends) and EC2 spot price history."""

from __future__ import annotations

import gzip
import json

import pytest
from botocore.exceptions import ClientError

from conftest import HOOK_HEADERS, calls

PRICING_REGION = "us-east-1"


def tm(field: str, value: str) -> dict:
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


def ec2_filters(region: str, instance_type: str) -> list[dict]:
    return [
        tm("regionCode", region),
        tm("instanceType", instance_type),
        tm("operatingSystem", "Linux"),
        tm("tenancy", "Shared"),
        tm("preInstalledSw", "NA"),
        tm("capacitystatus", "Used"),
    ]


def on_demand_usd(entry: str) -> float:
    """The price the way the app reads it: terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD."""
    record = json.loads(entry)
    (term,) = record["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    return float(dimension["pricePerUnit"]["USD"])


@pytest.fixture(scope="module")
def pricing(aws):
    return aws("pricing", PRICING_REGION)


def test_ec2_instance_price(pricing):
    res = pricing.get_products(ServiceCode="AmazonEC2", Filters=ec2_filters("eu-west-3", "t3.medium"))
    assert res["FormatVersion"] == "aws_v1"
    assert "NextToken" not in res
    (entry,) = res["PriceList"]
    assert isinstance(entry, str)  # AWS sends each product as a JSON string
    record = json.loads(entry)
    attributes = record["product"]["attributes"]
    assert record["serviceCode"] == "AmazonEC2"
    assert record["product"]["productFamily"] == "Compute Instance"
    assert attributes["instanceType"] == "t3.medium"
    assert attributes["regionCode"] == "eu-west-3"
    assert attributes["location"] == "EU (Paris)"
    assert attributes["vcpu"] == "2"
    assert on_demand_usd(entry) == pytest.approx(0.0472)


@pytest.mark.parametrize(
    ("region", "instance_type", "low", "high"),
    [
        ("eu-west-3", "g5.xlarge", 1.0, 1.5),
        ("us-east-1", "g5.xlarge", 1.006, 1.006),
        ("us-east-1", "g4dn.xlarge", 0.526, 0.526),
        ("eu-west-3", "m5.large", 0.112, 0.112),
        ("eu-central-1", "g4dn.xlarge", 0.55, 0.8),  # no fixture file: generated the same way
    ],
)
def test_ec2_prices_plausible(pricing, region, instance_type, low, high):
    (entry,) = pricing.get_products(ServiceCode="AmazonEC2", Filters=ec2_filters(region, instance_type))["PriceList"]
    assert low <= on_demand_usd(entry) <= high


def test_gp3_storage_price(pricing):
    filters = [tm("regionCode", "eu-west-3"), tm("volumeApiName", "gp3"), tm("productFamily", "Storage")]
    (entry,) = pricing.get_products(ServiceCode="AmazonEC2", Filters=filters)["PriceList"]
    record = json.loads(entry)
    (term,) = record["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    assert dimension["unit"] == "GB-Mo"
    assert float(dimension["pricePerUnit"]["USD"]) == pytest.approx(0.0928)
    # the gp3 IOPS and throughput prices are other product families
    everything = pricing.get_products(
        ServiceCode="AmazonEC2", Filters=[tm("regionCode", "eu-west-3"), tm("volumeApiName", "gp3")]
    )["PriceList"]
    families = sorted(json.loads(e)["product"]["productFamily"] for e in everything)
    assert families == ["Provisioned Throughput", "Storage", "System Operation"]


def test_sagemaker_training_price(pricing):
    filters = [tm("regionCode", "us-east-1"), tm("instanceName", "ml.g5.xlarge"), tm("component", "Training")]
    (entry,) = pricing.get_products(ServiceCode="AmazonSageMaker", Filters=filters)["PriceList"]
    record = json.loads(entry)
    assert record["serviceCode"] == "AmazonSageMaker"
    assert record["product"]["attributes"]["instanceName"] == "ml.g5.xlarge"
    assert on_demand_usd(entry) == pytest.approx(1.408)


def test_no_match_is_an_empty_list(pricing):
    for filters in (ec2_filters("eu-west-3", "no.such"), ec2_filters("xx-nowhere-1", "t3.medium")):
        res = pricing.get_products(ServiceCode="AmazonEC2", Filters=filters)
        assert res["PriceList"] == []
        assert "NextToken" not in res


def test_filters_are_anded_and_field_names_case_insensitive(pricing):
    filters = [tm("regioncode", "eu-west-3"), tm("INSTANCETYPE", "t3.medium"), tm("operatingSystem", "Windows")]
    assert pricing.get_products(ServiceCode="AmazonEC2", Filters=filters)["PriceList"] == []
    filters[2] = tm("operatingsystem", "Linux")
    assert len(pricing.get_products(ServiceCode="AmazonEC2", Filters=filters)["PriceList"]) == 1


def test_paging(pricing):
    filters = [tm("regionCode", "eu-west-3"), tm("instanceFamily", "GPU instance")]
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"NextToken": token} if token else {}
        res = pricing.get_products(ServiceCode="AmazonEC2", Filters=filters, MaxResults=7, **kwargs)
        assert len(res["PriceList"]) <= 7
        seen += [json.loads(e)["product"]["attributes"]["instanceType"] for e in res["PriceList"]]
        pages += 1
        token = res.get("NextToken")
        if not token:
            break
    assert pages > 2
    assert len(seen) == len(set(seen))
    assert "g5.xlarge" in seen and "g4dn.xlarge" in seen
    # the paginator reads the same products
    paginator = pricing.get_paginator("get_products")
    listed = [e for page in paginator.paginate(ServiceCode="AmazonEC2", Filters=filters) for e in page["PriceList"]]
    assert sorted(json.loads(e)["product"]["attributes"]["instanceType"] for e in listed) == sorted(seen)


def test_next_token_of_another_query_is_refused(pricing):
    first = pricing.get_products(ServiceCode="AmazonEC2", Filters=[tm("regionCode", "eu-west-3")], MaxResults=1)
    with pytest.raises(ClientError) as e:
        pricing.get_products(
            ServiceCode="AmazonEC2", Filters=[tm("regionCode", "us-east-1")], NextToken=first["NextToken"]
        )
    assert e.value.response["Error"]["Code"] == "InvalidNextTokenException"
    with pytest.raises(ClientError) as e:
        pricing.get_products(ServiceCode="AmazonEC2", NextToken="not-a-token")
    assert e.value.response["Error"]["Code"] == "InvalidNextTokenException"


@pytest.mark.parametrize(
    ("kwargs", "code", "words"),
    [
        ({"ServiceCode": "AmazonNope"}, "NotFoundException", "AmazonNope"),
        ({"ServiceCode": "AmazonEC2", "MaxResults": 101}, "InvalidParameterException", "maxResults"),
        (
            {"ServiceCode": "AmazonEC2", "Filters": [{"Type": "FUZZY", "Field": "instanceType", "Value": "x"}]},
            "InvalidParameterException",
            "filters.member.type",
        ),
    ],
)
def test_validation_errors(pricing, kwargs, code, words):
    with pytest.raises(ClientError) as e:
        pricing.get_products(**kwargs)
    assert e.value.response["Error"]["Code"] == code
    assert words in e.value.response["Error"]["Message"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_only_the_price_list_regions_answer(aws, pricing):
    assert aws("pricing", "eu-central-1").get_products(
        ServiceCode="AmazonEC2", Filters=ec2_filters("eu-west-3", "t3.medium")
    )["PriceList"]
    with pytest.raises(ClientError) as e:
        aws("pricing", "eu-west-3").get_products(ServiceCode="AmazonEC2", Filters=ec2_filters("eu-west-3", "t3.medium"))
    assert e.value.response["Error"]["Code"] == "UnknownEndpoint"
    assert "us-east-1" in e.value.response["Error"]["Message"]


def test_describe_services_and_attribute_values(pricing):
    services = pricing.describe_services(ServiceCode="AmazonEC2")["Services"]
    assert services[0]["ServiceCode"] == "AmazonEC2"
    assert "instanceType" in services[0]["AttributeNames"]
    values = [
        v["Value"]
        for v in pricing.get_attribute_values(ServiceCode="AmazonEC2", AttributeName="volumeApiName")["AttributeValues"]
    ]
    assert values == ["gp3"]


def _hook(endpoint: str, body: dict) -> dict:
    import urllib.request

    req = urllib.request.Request(
        f"{endpoint}/easytdv-api/pricing", data=json.dumps(body).encode(), headers=HOOK_HEADERS, method="POST"
    )
    with urllib.request.urlopen(req) as answer:
        return json.loads(answer.read())


def test_injected_failure_hook(endpoint, pricing):
    from botocore.config import Config

    from conftest import client

    once = client(
        endpoint, "pricing", region=PRICING_REGION, config=Config(retries={"total_max_attempts": 1, "mode": "standard"})
    )
    assert _hook(endpoint, {"fail": "ThrottlingException", "count": 1})["failure"]["code"] == "ThrottlingException"
    try:
        with pytest.raises(ClientError) as e:
            once.get_products(ServiceCode="AmazonEC2", MaxResults=1)
        assert e.value.response["Error"]["Code"] == "ThrottlingException"
    finally:
        _hook(endpoint, {"fail": None})
    assert pricing.get_products(ServiceCode="AmazonEC2", MaxResults=1)["PriceList"]


def test_pricing_calls_are_recorded(pricing, data_dir):
    pricing.get_products(ServiceCode="AmazonSageMaker", MaxResults=1)
    recorded = [c for c in calls(data_dir) if c["service"] == "pricing" and c["operation"] == "GetProducts"]
    assert recorded[-1]["action"] == "pricing:GetProducts"
    assert recorded[-1]["region"] == PRICING_REGION
    assert recorded[-1]["status"] == 200
    assert any(c.get("error") == "UnknownEndpoint" for c in recorded)


def test_fixture_files_match_the_generator():
    from easytdv_sandbox import prices_data

    for service in prices_data.SERVICES:
        for region in prices_data.FIXTURE_REGIONS:
            want = "".join(prices_data.encode(r) + "\n" for r in prices_data.generate(service, region))
            with gzip.open(prices_data.fixture_path(service, region), "rt", encoding="utf-8") as f:
                assert f.read() == want, f"regenerate: python -m easytdv_sandbox.prices_data --write ({service})"


# --- EC2 spot price history -------------------------------------------------


def test_spot_price_history_one_row_per_zone(aws, pricing):
    rows = aws.ec2.describe_spot_price_history(InstanceTypes=["t3.medium"], ProductDescriptions=["Linux/UNIX"])[
        "SpotPriceHistory"
    ]
    assert sorted(r["AvailabilityZone"] for r in rows) == ["eu-west-3a", "eu-west-3b", "eu-west-3c"]
    (on_demand,) = pricing.get_products(ServiceCode="AmazonEC2", Filters=ec2_filters("eu-west-3", "t3.medium"))[
        "PriceList"
    ]
    for r in rows:
        assert r["InstanceType"] == "t3.medium" and r["ProductDescription"] == "Linux/UNIX"
        assert 0.25 * on_demand_usd(on_demand) <= float(r["SpotPrice"]) <= 0.45 * on_demand_usd(on_demand)
    assert len({r["SpotPrice"] for r in rows}) > 1  # zones differ
    again = aws.ec2.describe_spot_price_history(InstanceTypes=["t3.medium"], ProductDescriptions=["Linux/UNIX"])
    assert [r["SpotPrice"] for r in again["SpotPriceHistory"]] == [r["SpotPrice"] for r in rows]  # stable


def test_spot_price_history_follows_the_zone_offerings(aws):
    rows = aws.ec2.describe_spot_price_history(InstanceTypes=["g5.xlarge"], ProductDescriptions=["Linux/UNIX"])[
        "SpotPriceHistory"
    ]
    assert sorted(r["AvailabilityZone"] for r in rows) == ["eu-west-3a", "eu-west-3b"]  # 3c offers no g5.xlarge
    one = aws.ec2.describe_spot_price_history(
        InstanceTypes=["g5.xlarge"], Filters=[{"Name": "availability-zone", "Values": ["eu-west-3b"]}]
    )["SpotPriceHistory"]
    assert {r["AvailabilityZone"] for r in one} == {"eu-west-3b"}
    assert "Linux/UNIX" in {r["ProductDescription"] for r in one}


def test_spot_price_history_paging_and_errors(aws):
    kwargs = {"InstanceTypes": ["t3.medium", "m5.large"], "ProductDescriptions": ["Linux/UNIX"]}
    everything = aws.ec2.describe_spot_price_history(**kwargs)["SpotPriceHistory"]
    assert len(everything) == 6
    paged = [
        r
        for page in aws.ec2.get_paginator("describe_spot_price_history").paginate(
            **kwargs, PaginationConfig={"PageSize": 4}
        )
        for r in page["SpotPriceHistory"]
    ]
    assert [(r["AvailabilityZone"], r["InstanceType"]) for r in paged] == [
        (r["AvailabilityZone"], r["InstanceType"]) for r in everything
    ]
    with pytest.raises(ClientError) as e:
        aws.ec2.describe_spot_price_history(MaxResults=5000)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
