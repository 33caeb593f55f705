"""CloudFormation parameter constraints are enforced at CreateStack (moto ignores
them): a synchronous ValidationError with AWS's message, nothing created."""

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import online, wait_for

STACK_YAML = (Path(__file__).resolve().parents[3] / "templates" / "stack.yaml").read_text()
TEMPLATE = {
    "Parameters": {
        "Name": {"Type": "String", "MinLength": 3, "MaxLength": 8, "AllowedPattern": "[a-z]+"},
        "Size": {"Type": "Number", "MinValue": 8, "MaxValue": 100, "Default": 10},
        "Kind": {"Type": "String", "AllowedValues": ["cpu", "gpu"], "Default": "cpu"},
        "Tier": {
            "Type": "String",
            "AllowedPattern": "^t[0-9]$",
            "ConstraintDescription": "must be t0..t9",
            "Default": "t1",
        },
        "Ports": {"Type": "List<Number>", "Default": "80,443", "MaxValue": 65535},
    },
    "Resources": {"Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "x"}}},
}


def create(aws, name, template, **params):
    return aws.cloudformation.create_stack(
        StackName=name,
        TemplateBody=template if isinstance(template, str) else json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in params.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )


def refused(aws, name, template, **params) -> str:
    with pytest.raises(ClientError) as err:
        create(aws, name, template, **params)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert name not in [s["StackName"] for s in aws.cloudformation.describe_stacks()["Stacks"]]
    return err.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"Name": "ab"}, "Parameter 'Name' must contain at least 3 characters"),
        ({"Name": "abcdefghi"}, "Parameter 'Name' must contain at most 8 characters"),
        ({"Name": "abc1"}, "Parameter 'Name' must match pattern [a-z]+"),
        ({"Name": "abc", "Size": "7"}, "Parameter 'Size' must be a number not less than 8"),
        ({"Name": "abc", "Size": "101"}, "Parameter 'Size' must be a number not greater than 100"),
        ({"Name": "abc", "Size": "ten"}, "Parameter 'Size' must be a number"),
        ({"Name": "abc", "Kind": "tpu"}, "Parameter 'Kind' must be one of AllowedValues"),
        ({"Name": "abc", "Tier": "x1"}, "Parameter Tier failed to satisfy constraint: must be t0..t9"),
        ({"Name": "abc", "Ports": "80,70000"}, "Parameter 'Ports' must be a number not greater than 65535"),
    ],
)
def test_each_constraint_is_a_validation_error(aws, params, message):
    assert refused(aws, "params-bad", TEMPLATE, **params) == message


def test_values_within_the_constraints_create_the_stack(aws):
    create(aws, "params-good", TEMPLATE, Name="abcd", Size="100", Kind="gpu", Tier="t9", Ports="1,2")
    stack = aws.cloudformation.describe_stacks(StackName="params-good")["Stacks"][0]
    assert stack["StackStatus"] in ("CREATE_IN_PROGRESS", "CREATE_COMPLETE")
    aws.cloudformation.delete_stack(StackName="params-good")


def test_the_real_template_refuses_bad_run_parameters_and_creates_nothing(aws, ami):
    vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    run = "20261202-111111-abcdef"
    good = dict(
        RunId=run,
        Bucket="easytdv-params",
        RunPrefix=f"easytdv/runs/{run}",
        LambdaCodeKey=f"easytdv/runs/{run}/launcher.zip",
        InstanceType="t3.medium",
        DiskSizeGb="30",
        AmiId=ami,
        VpcId=vpc,
        MaxRuntimeHours="2",
    )
    cases = {
        "RunId": ("run-1", "Parameter RunId failed to satisfy constraint: must look like 20261126-142700-a1b2c3."),
        "DiskSizeGb": ("4", "Parameter 'DiskSizeGb' must be a number not less than 8"),
        "MaxRuntimeHours": ("49", "Parameter 'MaxRuntimeHours' must be a number not greater than 48"),
        # A String (a SageMaker run names no VPC): its pattern is checked, not its existence.
        "VpcId": (
            "default",
            "Parameter VpcId failed to satisfy constraint: must be a VPC id such as vpc-0123456789abcdef0.",
        ),
    }
    for key, (value, message) in cases.items():
        assert refused(aws, f"easytdv-{run}", STACK_YAML, **{**good, key: value}) == message, key
    roles = [r["RoleName"] for r in aws.iam.list_roles()["Roles"]]
    assert not [r for r in roles if run in r], "nothing is created"
    groups = aws.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"easytdv-{run}"]}])
    assert groups["SecurityGroups"] == []


def test_an_aws_specific_parameter_type_must_name_something_that_exists(aws):
    template = {
        "Parameters": {"Vpc": {"Type": "AWS::EC2::VPC::Id"}},
        "Resources": {"Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "x"}}},
    }
    message = refused(aws, "params-vpc", template, Vpc="vpc-0123456789abcdef0")
    assert message == (
        "Parameter validation failed: parameter value vpc-0123456789abcdef0 for parameter name Vpc does not exist"
    )
    vpc = aws.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    create(aws, "params-vpc", template, Vpc=vpc)
    aws.cloudformation.delete_stack(StackName="params-vpc")


def test_instance_status_is_initializing_until_user_data_finished(aws, launch):
    iid = launch("#!/bin/bash\nsleep 2\n", wait_online=False)
    status = aws.ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"][0]
    assert status["InstanceState"]["Name"] == "running"
    for part in ("InstanceStatus", "SystemStatus"):
        assert status[part] == {
            "Status": "initializing",
            "Details": [{"Name": "reachability", "Status": "initializing"}],
        }
    wait_for(lambda: online(aws, iid), what="Online")
    status = aws.ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"][0]
    assert status["InstanceStatus"]["Status"] == "ok" and status["SystemStatus"]["Status"] == "ok"
    assert status["InstanceStatus"]["Details"] == [{"Name": "reachability", "Status": "passed"}]
