"""CloudFormation resource failures behave like AWS: CreateStack succeeds, the
stack rolls back (ROLLBACK_COMPLETE) deleting what it created, a CREATE_FAILED
event names the resource; template errors stay synchronous ValidationErrors."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import wait_for

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}],
}


def template(group_name: str, **more) -> str:
    # moto creates resources in template order (no DependsOn): the group comes first.
    resources = {
        "Group": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupName": group_name, "GroupDescription": "created before the failure"},
        }
    }
    resources.update(more)
    return json.dumps(
        {
            "Parameters": {"Name": {"Type": "String", "Default": "x"}},
            "Resources": resources,
            "Outputs": {"GroupId": {"Value": {"Ref": "Group"}}},
        }
    )


def role(name: str) -> dict:
    return {"Type": "AWS::IAM::Role", "Properties": {"RoleName": name, "AssumeRolePolicyDocument": TRUST}}


def status(aws, name):
    return aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def group_ids(aws, name):
    groups = aws.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    return [g["GroupId"] for g in groups]


def gone(aws, name) -> bool:
    try:
        aws.cloudformation.describe_stacks(StackName=name)
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ValidationError"
        assert "does not exist" in e.response["Error"]["Message"]
        return True
    return False


@pytest.fixture
def taken_role(aws):
    aws.iam.create_role(RoleName="taken-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    yield "taken-role"
    aws.iam.delete_role(RoleName="taken-role")


def test_resource_failure_rolls_back(aws, taken_role):
    cfn = aws.cloudformation
    body = template("easytdv-fail-sg", Role=role(taken_role))
    stack_id = cfn.create_stack(StackName="easytdv-fail", TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"])[
        "StackId"
    ]
    assert stack_id.startswith("arn:aws:cloudformation:")
    assert status(aws, "easytdv-fail") == "CREATE_IN_PROGRESS"  # --cfn-delay
    assert group_ids(aws, "easytdv-fail-sg")  # created before the role failed
    wait_for(lambda: status(aws, "easytdv-fail") == "ROLLBACK_IN_PROGRESS", what="ROLLBACK_IN_PROGRESS")
    wait_for(lambda: status(aws, "easytdv-fail") == "ROLLBACK_COMPLETE", what="ROLLBACK_COMPLETE")

    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackName"] == "easytdv-fail" and not stack.get("Outputs")
    events = cfn.describe_stack_events(StackName="easytdv-fail")["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert len(failed) == 1
    assert failed[0]["LogicalResourceId"] == "Role"
    assert failed[0]["ResourceType"] == "AWS::IAM::Role"
    assert "Role with name taken-role already exists" in failed[0]["ResourceStatusReason"]
    stack_events = [e["ResourceStatus"] for e in reversed(events) if e["ResourceType"] == "AWS::CloudFormation::Stack"]
    assert stack_events == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    assert not group_ids(aws, "easytdv-fail-sg")  # rolled back
    assert aws.iam.get_role(RoleName=taken_role)["Role"]["RoleName"] == taken_role  # not ours
    assert cfn.list_stack_resources(StackName="easytdv-fail")["StackResourceSummaries"] == []

    cfn.delete_stack(StackName="easytdv-fail")
    wait_for(lambda: gone(aws, "easytdv-fail"), what="stack deleted")
    deleted = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    assert aws.iam.get_role(RoleName=taken_role)


def test_disable_rollback_keeps_resources(aws, taken_role):
    cfn = aws.cloudformation
    body = template("easytdv-keep-sg", Role=role(taken_role))
    cfn.create_stack(StackName="easytdv-keep", TemplateBody=body, DisableRollback=True)
    wait_for(lambda: status(aws, "easytdv-keep") == "CREATE_FAILED", what="CREATE_FAILED")
    assert group_ids(aws, "easytdv-keep-sg")
    cfn.delete_stack(StackName="easytdv-keep")
    wait_for(lambda: gone(aws, "easytdv-keep"), what="stack deleted")
    assert not group_ids(aws, "easytdv-keep-sg")


def test_template_errors_stay_synchronous(aws):
    cfn = aws.cloudformation
    missing = json.dumps(
        {"Parameters": {"Needed": {"Type": "String"}}, "Resources": json.loads(template("easytdv-bad-sg"))["Resources"]}
    )
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName="easytdv-bad", TemplateBody=missing)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "Needed" in e.value.response["Error"]["Message"]

    # A template error moto only finds while creating (here after the group):
    # still a synchronous ValidationError, and nothing is left behind.
    bad_ref = {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {"GroupName": "easytdv-bad-sg2", "GroupDescription": {"Fn::GetAtt": ["Nope", "Arn"]}},
    }
    with pytest.raises(ClientError) as e:
        cfn.create_stack(StackName="easytdv-bad", TemplateBody=template("easytdv-bad-sg", Bad=bad_ref))
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert gone(aws, "easytdv-bad")
    assert not group_ids(aws, "easytdv-bad-sg")


def test_a_second_stack_of_one_name_is_refused_even_at_the_same_time(aws):
    """AWS: a name is one stack's until it is deleted. moto checked the name before building the
    stack, so two requests at once made two stacks (the second failing on the first's role)."""
    import concurrent.futures

    body = template("twice-group", Role=role("twice-role"))

    def create(_):
        try:
            aws.cloudformation.create_stack(StackName="twice", TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"])
            return "created"
        except ClientError as e:
            return (e.response["Error"]["Code"], e.response["Error"]["Message"])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(create, range(4)))
    assert answers.count("created") == 1, answers
    assert all(a == ("AlreadyExistsException", "Stack [twice] already exists") for a in answers if a != "created")
    wait_for(lambda: status(aws, "twice") == "CREATE_COMPLETE", what="the one stack created")
    # And after it is done, the same answer.
    with pytest.raises(ClientError) as again:
        aws.cloudformation.create_stack(StackName="twice", TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"])
    assert again.value.response["Error"]["Message"] == "Stack [twice] already exists"
    aws.cloudformation.delete_stack(StackName="twice")
    wait_for(lambda: gone(aws, "twice"), what="deleted")
