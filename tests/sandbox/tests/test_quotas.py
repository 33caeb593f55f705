"""EC2 quotas (Service Quotas + VcpuLimitExceeded), zone offerings (Unsupported),
capacity failures (InsufficientInstanceCapacity), ClientToken idempotency, and
the real launcher moving from zone to zone."""

import io
import json
import time
import urllib.error
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from test_lambda import TRUST, hook

from conftest import HOOK_HEADERS, REGION, client, start_sandbox, stop_sandbox

TEMPLATES = __import__("pathlib").Path(__file__).resolve().parents[3] / "templates"


def error_of(call) -> dict:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]


def default_subnets(aws) -> dict[str, str]:
    subnets = aws.ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return {s["AvailabilityZone"]: s["SubnetId"] for s in subnets}


@pytest.fixture
def quotas(endpoint):
    """Set quotas for the test, back to the defaults afterwards."""
    changed = {}

    def set_(region, **values):
        changed.setdefault(region, set()).update(values)
        return hook(endpoint, "quotas", {"region": region, "quotas": values})

    yield set_
    for region, codes in changed.items():
        defaults = {"L-1216C47A": 32, "L-DB2E81BA": 0, "L-417A185B": 0}
        hook(endpoint, "quotas", {"region": region, "quotas": {c: defaults.get(c, 0) for c in codes}})


def test_service_quotas_answer_a_fresh_accounts_ec2_quotas(aws, quotas):
    sq = aws("service-quotas")
    got = {
        code: sq.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]
        for code in ("L-1216C47A", "L-DB2E81BA", "L-417A185B")
    }
    assert {c: q["Value"] for c, q in got.items()} == {"L-1216C47A": 32.0, "L-DB2E81BA": 0.0, "L-417A185B": 0.0}
    assert got["L-DB2E81BA"]["QuotaName"] == "Running On-Demand G and VT instances"
    assert got["L-DB2E81BA"]["QuotaArn"] == f"arn:aws:servicequotas:{REGION}:123456789012:ec2/L-DB2E81BA"
    listed = {q["QuotaCode"] for q in sq.list_service_quotas(ServiceCode="ec2")["Quotas"]}
    assert listed >= {
        "L-1216C47A",
        "L-DB2E81BA",
        "L-417A185B",
        "L-74FC7D96",
        "L-1945791B",
        "L-2C3B7624",
        "L-6E869C2A",
        "L-7295265B",
    }
    assert (
        error_of(lambda: sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-00000000"))["Code"]
        == "NoSuchResourceException"
    )

    quotas(REGION, **{"L-DB2E81BA": 8})
    assert sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-DB2E81BA")["Quota"]["Value"] == 8.0
    other = aws("service-quotas", region="us-east-1")
    assert other.get_service_quota(ServiceCode="ec2", QuotaCode="L-DB2E81BA")["Quota"]["Value"] == 0.0


def test_run_instances_refuses_beyond_the_vcpu_quota(aws, ami, quotas):
    gpu = dict(ImageId=ami, InstanceType="g5.xlarge", MinCount=1, MaxCount=1)  # 4 vCPUs, G bucket
    err = error_of(lambda: aws.ec2.run_instances(**gpu))
    assert err["Code"] == "VcpuLimitExceeded"
    assert "current vCPU limit of 0 allows for the instance bucket" in err["Message"]
    quotas(REGION, **{"L-DB2E81BA": 8})
    first = aws.ec2.run_instances(**gpu)["Instances"][0]["InstanceId"]
    second = aws.ec2.run_instances(**gpu)["Instances"][0]["InstanceId"]
    assert "limit of 8 allows" in error_of(lambda: aws.ec2.run_instances(**gpu))["Message"]
    # terminated machines no longer count; other buckets are separate
    aws.ec2.terminate_instances(InstanceIds=[first])
    third = aws.ec2.run_instances(**gpu)["Instances"][0]["InstanceId"]
    assert (
        error_of(lambda: aws.ec2.run_instances(**{**gpu, "InstanceType": "p3.2xlarge"}))["Code"] == "VcpuLimitExceeded"
    )
    aws.ec2.terminate_instances(InstanceIds=[second, third])


def test_a_zone_that_does_not_offer_the_type_answers_unsupported(aws, ami, quotas):
    quotas(REGION, **{"L-DB2E81BA": 8})
    offered = lambda zone: {  # noqa: E731
        o["InstanceType"]
        for o in aws.ec2.describe_instance_type_offerings(
            LocationType="availability-zone", Filters=[{"Name": "location", "Values": [zone]}]
        )["InstanceTypeOfferings"]
    }
    assert "g5.xlarge" in offered("eu-west-3a") and "g5.xlarge" in offered("eu-west-3b")
    assert "g5.xlarge" not in offered("eu-west-3c") and "t3.medium" in offered("eu-west-3c")
    subnets = default_subnets(aws)
    err = error_of(
        lambda: aws.ec2.run_instances(
            ImageId=ami, InstanceType="g5.xlarge", MinCount=1, MaxCount=1, SubnetId=subnets["eu-west-3c"]
        )
    )
    assert err["Code"] == "Unsupported"
    assert "(g5.xlarge) is not supported in your requested Availability Zone (eu-west-3c)" in err["Message"]
    assert "eu-west-3a, eu-west-3b" in err["Message"]


def test_capacity_hook_fails_the_next_launches_in_a_zone(aws, ami, endpoint):
    subnets = default_subnets(aws)
    answer = hook(
        endpoint, "capacity", {"region": REGION, "zone": "eu-west-3b", "instance_type": "t3.medium", "count": 2}
    )
    assert answer["pending"][-1] == {
        "region": REGION,
        "zone": "eu-west-3b",
        "instance_type": "t3.medium",
        "market": None,
        "count": 2,
    }
    launch = lambda zone, itype="t3.medium": aws.ec2.run_instances(  # noqa: E731
        ImageId=ami, InstanceType=itype, MinCount=1, MaxCount=1, SubnetId=subnets[zone]
    )["Instances"][0]["InstanceId"]
    other_type = launch("eu-west-3b", "t3.small")  # another type is not affected
    for _ in range(2):
        err = error_of(lambda: launch("eu-west-3b"))
        assert err["Code"] == "InsufficientInstanceCapacity"
        assert "sufficient t3.medium capacity in the Availability Zone you requested (eu-west-3b)" in err["Message"]
    elsewhere = launch("eu-west-3a")
    then = launch("eu-west-3b")  # the two failures are used up
    aws.ec2.terminate_instances(InstanceIds=[other_type, elsewhere, then])


def test_spot_capacity_fails_in_aws_words_and_only_for_spot(aws, ami, endpoint):
    subnets = default_subnets(aws)
    hook(endpoint, "capacity", {"region": REGION, "zone": "eu-west-3a", "market": "spot", "count": 1})
    spot = {
        "MarketType": "spot",
        "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
    }
    req = dict(ImageId=ami, InstanceType="t3.medium", MinCount=1, MaxCount=1, SubnetId=subnets["eu-west-3a"])
    err = error_of(lambda: aws.ec2.run_instances(**req, InstanceMarketOptions=spot))
    assert err == {
        "Code": "InsufficientInstanceCapacity",
        "Message": "There is no Spot capacity available that matches your request.",
    }
    on_demand = aws.ec2.run_instances(**req)["Instances"][0]
    assert "InstanceLifecycle" not in on_demand
    taken = aws.ec2.run_instances(**req, InstanceMarketOptions=spot)["Instances"][0]
    assert taken["InstanceLifecycle"] == "spot"
    bad = error_of(lambda: aws.ec2.run_instances(**req, InstanceMarketOptions={"MarketType": "bogus"}))
    assert bad["Code"] == "InvalidParameterValue"
    # AWS takes the spot machine back: terminated, in EC2's own words; an on-demand one cannot be.
    with pytest.raises(urllib.error.HTTPError) as refused:
        hook(endpoint, "spot-interrupt", {"instance_id": on_demand["InstanceId"]})
    assert refused.value.code == 400
    hook(endpoint, "spot-interrupt", {"instance_id": taken["InstanceId"]})
    gone = aws.ec2.describe_instances(InstanceIds=[taken["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert gone["State"]["Name"] in ("shutting-down", "terminated")
    assert gone["StateReason"]["Code"] == "Server.SpotInstanceTermination"
    aws.ec2.terminate_instances(InstanceIds=[on_demand["InstanceId"]])


def test_a_spot_notice_comes_first_in_the_instances_metadata(aws, ami, endpoint, data_dir):
    spot = {"MarketType": "spot"}
    req = dict(ImageId=ami, InstanceType="t3.medium", MinCount=1, MaxCount=1, InstanceMarketOptions=spot)
    iid = aws.ec2.run_instances(**req)["Instances"][0]["InstanceId"]
    answer = hook(endpoint, "spot-interrupt", {"instance_id": iid, "notice_seconds": 1})
    notice = Path(data_dir) / "instances" / iid / ".imds" / "spot" / "instance-action"
    said = json.loads(notice.read_text())
    assert said == answer["notice"] and said["action"] == "terminate" and said["time"].endswith("Z")
    state = lambda: aws.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]  # noqa: E731
    assert state()["State"]["Name"] in ("pending", "running")  # still running during the notice
    time.sleep(2)
    assert state()["State"]["Name"] in ("shutting-down", "terminated")
    assert state()["StateReason"]["Code"] == "Server.SpotInstanceTermination"


def test_client_token_makes_run_instances_idempotent(aws, ami):
    req = dict(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1, ClientToken="easytdv-token-test-1")
    first = aws.ec2.run_instances(**req)["Instances"][0]["InstanceId"]
    again = aws.ec2.run_instances(**req)["Instances"][0]["InstanceId"]
    assert first == again
    other = aws.ec2.run_instances(**{**req, "ClientToken": "easytdv-token-test-2"})["Instances"][0]["InstanceId"]
    assert other != first
    aws.ec2.terminate_instances(InstanceIds=[first, other])


def test_quota_flag_and_reset(tmp_path):
    proc, url = start_sandbox(tmp_path, "--quota", "L-1216C47A=2")
    try:
        sq = client(url, "service-quotas")
        assert sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]["Value"] == 2.0
        ec2 = client(url, "ec2")
        ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ec2.run_instances(ImageId=ami, InstanceType="t3.medium", MinCount=1, MaxCount=1)
        assert (
            error_of(lambda: ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1))["Code"]
            == "VcpuLimitExceeded"
        )
        hook(url, "quotas", {"region": "*", "quotas": {"L-1216C47A": 100}})
        hook(url, "capacity", {"zone": "eu-west-3a", "count": 5})
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", headers=HOOK_HEADERS, method="POST"))
        # reset forgets hook settings, keeps the flag's
        assert sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]["Value"] == 2.0
        assert hook(url, "capacity")["pending"] == []
    finally:
        stop_sandbox(proc)


def test_the_launcher_moves_to_a_zone_with_capacity_and_is_idempotent(aws, ami, endpoint, quotas):
    quotas(REGION, **{"L-DB2E81BA": 8})
    run = "20261202-101010-abcdef"
    iam = aws.iam
    iam.create_role(RoleName=f"easytdv-{run}-instance", AssumeRolePolicyDocument=TRUST)
    profile = iam.create_instance_profile(InstanceProfileName=f"easytdv-{run}")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=f"easytdv-{run}", RoleName=f"easytdv-{run}-instance")
    role = iam.create_role(RoleName=f"easytdv-{run}-launcher", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    sg = aws.ec2.create_security_group(GroupName=f"easytdv-{run}", Description="x", VpcId=vpc)["GroupId"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(TEMPLATES / "lambda" / "launch.py", "launch.py")
        zf.write(TEMPLATES / "instance" / "bootstrap.sh", "bootstrap.sh")
    env = {
        "RUN_ID": run,
        "AMI_ID": ami,
        "INSTANCE_TYPE": "g5.xlarge",
        "DISK_SIZE_GB": "80",
        "INSTANCE_PROFILE_ARN": profile["Arn"],
        "SECURITY_GROUP_ID": sg,
        "MAX_RUNTIME_HOURS": "1",
        "BUCKET": "b",
        "RUN_PREFIX": f"easytdv/runs/{run}",
        "BUCKET_OWNER": "123456789012",
    }
    fn = aws("lambda")
    fn.create_function(
        FunctionName=f"easytdv-{run}-launch",
        Runtime="python3.13",
        Role=role,
        Handler="launch.handler",
        Code={"ZipFile": buf.getvalue()},
        Timeout=60,
        Environment={"Variables": env},
    )
    subnets = default_subnets(aws)
    hook(endpoint, "capacity", {"zone": "eu-west-3a", "instance_type": "g5.xlarge", "count": 1})
    event = {
        "launch": 1,
        "subnets": [{"subnet_id": subnets[z], "zone": z} for z in ("eu-west-3a", "eu-west-3c", "eu-west-3b")],
    }
    resp = fn.invoke(FunctionName=f"easytdv-{run}-launch", Payload=json.dumps(event))
    answer = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, answer
    assert (answer["zone"], answer["subnet_id"], answer["reused"]) == ("eu-west-3b", subnets["eu-west-3b"], False)
    assert [(t["zone"], t["code"]) for t in answer["tried"]] == [
        ("eu-west-3a", "InsufficientInstanceCapacity"),
        ("eu-west-3c", "Unsupported"),
    ]
    again = json.loads(fn.invoke(FunctionName=f"easytdv-{run}-launch", Payload=json.dumps(event))["Payload"].read())
    assert (again["instance_id"], again["reused"]) == (answer["instance_id"], True)
    live = aws.ec2.describe_instances(
        Filters=[
            {"Name": "tag:easytdv:run-id", "Values": [run]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    assert [i["InstanceId"] for r in live for i in r["Instances"]] == [answer["instance_id"]]

    # over the quota: the launcher's message carries the code the core reads
    quotas(REGION, **{"L-DB2E81BA": 4})
    resp = fn.invoke(FunctionName=f"easytdv-{run}-launch", Payload=json.dumps({**event, "launch": 2}))
    assert resp["FunctionError"] == "Unhandled"
    message = json.loads(resp["Payload"].read())["errorMessage"]
    assert message.startswith("easytdv launcher: RunInstances failed (VcpuLimitExceeded: "), message
    aws.ec2.terminate_instances(InstanceIds=[answer["instance_id"]])
