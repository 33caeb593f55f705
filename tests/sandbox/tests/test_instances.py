"""Instances: user data at launch, managed-instance info, AMIs, instance types."""

import time

import pytest

from conftest import online, wait_for

USER_DATA = """#!/bin/bash
set -eu
base="${EASYTDV_HOME:-/opt/easytdv}"
echo "home=$EASYTDV_HOME pwd=$PWD" > "$base/marker.txt"
aws s3 cp s3://userdata-bucket/input.txt "$base/input.txt"
python3 -m venv --without-pip "$base/venv"
sleep 2
echo bootstrap done
"""


def test_user_data_runs_once_then_instance_is_online(aws, launch, data_dir):
    aws.s3.create_bucket(Bucket="userdata-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    aws.s3.put_object(Bucket="userdata-bucket", Key="input.txt", Body=b"from s3\n")
    started = time.time()
    iid = launch(USER_DATA, wait_online=False)
    home = data_dir / "instances" / iid
    assert not online(aws, iid)
    wait_for(lambda: (home / "marker.txt").exists(), what="user data to start")
    assert not online(aws, iid), "Online before user data finished"
    wait_for(lambda: online(aws, iid), what="Online")
    assert time.time() - started >= 2
    assert (home / "marker.txt").read_text() == f"home={home} pwd={home}\n"
    assert (home / "input.txt").read_text() == "from s3\n"
    assert (home / "venv" / "bin" / "python3").exists()
    assert "bootstrap done" in (home / "cloud-init-output.log").read_text()
    info = aws.ssm.describe_instance_information(
        InstanceInformationFilterList=[{"key": "InstanceIds", "valueSet": [iid]}]
    )["InstanceInformationList"]
    assert info[0]["PlatformType"] == "Linux" and info[0]["PingStatus"] == "Online"


def test_terminated_instances_are_not_managed(aws, launch):
    iid = launch()
    aws.ec2.terminate_instances(InstanceIds=[iid])
    listed = [i["InstanceId"] for i in aws.ssm.describe_instance_information()["InstanceInformationList"]]
    assert iid not in listed


@pytest.mark.parametrize("region", ["eu-west-3", "us-east-1", "ap-southeast-2"])
def test_public_ami_parameters_resolve_to_images(aws, region):
    names = [
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id",
        "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id",
    ]
    res = aws("ssm", region).get_parameters(Names=names)
    assert res["InvalidParameters"] == []
    ids = [p["Value"] for p in res["Parameters"]]
    images = aws("ec2", region).describe_images(ImageIds=ids)["Images"]
    assert sorted(i["ImageId"] for i in images) == sorted(ids)
    assert all(i["Name"] and i["RootDeviceName"] == "/dev/xvda" for i in images)
    arch = {i["ImageId"]: i["Architecture"] for i in images}
    by_name = {p["Name"]: arch[p["Value"]] for p in res["Parameters"]}
    assert [by_name[n] for n in names] == ["x86_64", "arm64", "x86_64", "arm64"]
    single = aws("ssm", region).get_parameter(Name=names[2])["Parameter"]["Value"]
    assert single in ids


def test_region_long_name(aws):
    name = "/aws/service/global-infrastructure/regions/eu-west-3/longName"
    assert aws.ssm.get_parameter(Name=name)["Parameter"]["Value"] == "Europe (Paris)"


def test_instance_types(aws):
    wanted = ["t3.medium", "m5.large", "g4dn.xlarge"]
    offers = aws.ec2.describe_instance_type_offerings(Filters=[{"Name": "instance-type", "Values": wanted}])[
        "InstanceTypeOfferings"
    ]
    assert sorted(o["InstanceType"] for o in offers) == sorted(wanted)
    types = {t["InstanceType"]: t for t in aws.ec2.describe_instance_types(InstanceTypes=wanted)["InstanceTypes"]}
    assert types["g4dn.xlarge"]["GpuInfo"]["Gpus"][0]["Manufacturer"] == "NVIDIA"
    assert "GpuInfo" not in types["t3.medium"]
