"""CloudFormation: TemplateURL in virtual-hosted form, observable progress
with --cfn-delay, Lambda from S3 code invokable, deletion removes resources."""

import json

import pytest
from botocore.exceptions import ClientError
from test_lambda import zip_of

from conftest import wait_for

BUCKET = "cfn-templates-bucket"
TEMPLATE = {
    "Parameters": {"Bucket": {"Type": "String"}, "CodeKey": {"Type": "String"}},
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "easytdv-cfn-role",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]},
                        }
                    ],
                },
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
            },
        },
        "Profile": {
            "Type": "AWS::IAM::InstanceProfile",
            "Properties": {"InstanceProfileName": "easytdv-cfn-profile", "Roles": [{"Ref": "Role"}]},
        },
        "Group": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupName": "easytdv-cfn-sg", "GroupDescription": "no inbound"},
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "easytdv-cfn-fn",
                "Runtime": "python3.12",
                "Handler": "app.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Timeout": 30,
                "Environment": {"Variables": {"GROUP": {"Ref": "Group"}}},
                "Code": {"S3Bucket": {"Ref": "Bucket"}, "S3Key": {"Ref": "CodeKey"}},
            },
        },
    },
    "Outputs": {"FunctionName": {"Value": {"Ref": "Function"}}},
}
APP = "import os\ndef handler(event, context):\n    return {'group': os.environ['GROUP']}\n"


def status(aws, name):
    return aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


@pytest.fixture(scope="module")
def template_url(aws):
    aws.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    aws.s3.put_object(Bucket=BUCKET, Key="easytdv/runs/r1/template.json", Body=json.dumps(TEMPLATE))
    aws.s3.put_object(Bucket=BUCKET, Key="easytdv/runs/r1/lambda.zip", Body=zip_of({"app.py": APP}))
    return f"https://{BUCKET}.s3.eu-west-3.amazonaws.com/easytdv/runs/r1/template.json"


def test_stack_lifecycle(aws, template_url):
    cfn = aws.cloudformation
    cfn.create_stack(
        StackName="easytdv-r1",
        TemplateURL=template_url,
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": "Bucket", "ParameterValue": BUCKET},
            {"ParameterKey": "CodeKey", "ParameterValue": "easytdv/runs/r1/lambda.zip"},
        ],
        Tags=[{"Key": "easytdv:run-id", "Value": "r1"}],
    )
    assert status(aws, "easytdv-r1") == "CREATE_IN_PROGRESS"
    wait_for(lambda: status(aws, "easytdv-r1") == "CREATE_COMPLETE", what="CREATE_COMPLETE")
    outputs = cfn.describe_stacks(StackName="easytdv-r1")["Stacks"][0]["Outputs"]
    fn = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "FunctionName")
    resp = aws("lambda").invoke(FunctionName=fn)
    group = json.loads(resp["Payload"].read())["group"]
    assert group.startswith("sg-")

    cfn.delete_stack(StackName="easytdv-r1")
    assert status(aws, "easytdv-r1") == "DELETE_IN_PROGRESS"
    wait_for(
        lambda: not any(s["StackName"] == "easytdv-r1" for s in cfn.describe_stacks()["Stacks"]), what="stack deleted"
    )
    with pytest.raises(ClientError):
        aws.iam.get_role(RoleName="easytdv-cfn-role")
    with pytest.raises(ClientError):
        aws.iam.get_instance_profile(InstanceProfileName="easytdv-cfn-profile")
    with pytest.raises(ClientError):
        aws("lambda").get_function(FunctionName=fn)
    with pytest.raises(ClientError):
        aws.ec2.describe_security_groups(GroupIds=[group])


def test_a_stack_update_changes_a_roles_inline_policies(aws):
    """CloudFormation updates a role's inline policies in place (moto changed only its description)."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                       "Action": "sts:AssumeRole"}]}  # fmt: skip

    def body(resource: str, extra: bool) -> str:
        policies = [{"PolicyName": "main", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}]}}]  # fmt: skip
        if extra:
            policies.append({"PolicyName": "extra", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}})  # fmt: skip
        role = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "updated-role",
                "AssumeRolePolicyDocument": trust, "Policies": policies}}  # fmt: skip
        return json.dumps({"Resources": {"Role": role}})

    def policy(name):
        document = aws.iam.get_role_policy(RoleName="updated-role", PolicyName=name)["PolicyDocument"]
        return json.dumps(document)

    aws.cloudformation.create_stack(StackName="role-update", TemplateBody=body("arn:aws:s3:::a/*", True),
                                    Capabilities=["CAPABILITY_NAMED_IAM"])  # fmt: skip
    wait_for(lambda: aws.cloudformation.describe_stacks(StackName="role-update")["Stacks"][0]["StackStatus"]
             == "CREATE_COMPLETE", what="created")  # fmt: skip
    role_id = aws.iam.get_role(RoleName="updated-role")["Role"]["RoleId"]
    assert "arn:aws:s3:::a/*" in policy("main")
    aws.cloudformation.update_stack(StackName="role-update", TemplateBody=body("arn:aws:s3:::b/*", False),
                                    Capabilities=["CAPABILITY_NAMED_IAM"])  # fmt: skip
    wait_for(lambda: aws.cloudformation.describe_stacks(StackName="role-update")["Stacks"][0]["StackStatus"]
             == "UPDATE_COMPLETE", what="updated")  # fmt: skip
    assert "arn:aws:s3:::b/*" in policy("main") and "arn:aws:s3:::a/*" not in policy("main")
    assert aws.iam.list_role_policies(RoleName="updated-role")["PolicyNames"] == ["main"]
    assert aws.iam.get_role(RoleName="updated-role")["Role"]["RoleId"] == role_id, "updated in place, not replaced"
    aws.cloudformation.delete_stack(StackName="role-update")


def test_a_renamed_function_and_log_group_are_replaced(aws):
    """A new FunctionName / LogGroupName is a replacement, as on AWS (moto kept the old function)."""
    aws.s3.create_bucket(Bucket="cfn-rename", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    aws.s3.put_object(Bucket="cfn-rename", Key="fn.zip", Body=zip_of({"app.py": APP}))
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                       "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    template = json.dumps({
        "Parameters": {"Name": {"Type": "String"}},
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role",
                     "Properties": {"RoleName": "rename-role", "AssumeRolePolicyDocument": trust}},
            "Logs": {"Type": "AWS::Logs::LogGroup",
                     "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${Name}"}}},
            "Function": {"Type": "AWS::Lambda::Function", "DependsOn": "Logs", "Properties": {
                "FunctionName": {"Ref": "Name"}, "Runtime": "python3.12", "Handler": "app.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Environment": {"Variables": {"GROUP": "g"}},
                "Code": {"S3Bucket": "cfn-rename", "S3Key": "fn.zip"}}},
        },
        "Outputs": {"FunctionName": {"Value": {"Ref": "Function"}}},
    })  # fmt: skip

    def stack(action, name):
        call = getattr(aws.cloudformation, f"{action}_stack")
        parameters = [{"ParameterKey": "Name", "ParameterValue": name}]
        call(StackName="rename", TemplateBody=template, Capabilities=["CAPABILITY_NAMED_IAM"], Parameters=parameters)
        done = f"{action.upper()}_COMPLETE"
        wait_for(lambda: status(aws, "rename") == done, what=done)
        outputs = aws.cloudformation.describe_stacks(StackName="rename")["Stacks"][0]["Outputs"]
        return outputs[0]["OutputValue"]

    def groups():
        return {
            g["logGroupName"]
            for g in aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/fn-")["logGroups"]
        }

    assert stack("create", "fn-one") == "fn-one"
    assert groups() == {"/aws/lambda/fn-one"}
    assert stack("update", "fn-two") == "fn-two"
    assert json.loads(aws("lambda").invoke(FunctionName="fn-two")["Payload"].read()) == {"group": "g"}
    with pytest.raises(ClientError) as gone:
        aws("lambda").get_function(FunctionName="fn-one")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert groups() == {"/aws/lambda/fn-two"}
    aws.cloudformation.delete_stack(StackName="rename")
    wait_for(lambda: not any(s["StackName"] == "rename" for s in aws.cloudformation.describe_stacks()["Stacks"]),
             what="deleted")  # fmt: skip
    with pytest.raises(ClientError):
        aws("lambda").get_function(FunctionName="fn-two")
