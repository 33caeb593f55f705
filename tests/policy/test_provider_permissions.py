"""(b) CloudFormation creates and deletes the stack's resources with the
caller's permissions: the handler permissions of each resource type in
templates/stack.yaml (cfn-lint's provider schemas) must be granted by the
user policy's CreateCloudResources* (create) and CleanUp* (delete) statements.

EXCLUDED: permissions the schemas list for properties stack.yaml does not use,
each with that property. Nothing else may be left out.
"""

import policy_check

KMS = "KmsKeyArn (customer-managed key for environment variables)"
EXCLUDED = {
    ("AWS::IAM::Role", "iam:AttachRolePolicy"): "ManagedPolicyArns (the roles' policies are inline)",
    ("AWS::EC2::SecurityGroup", "ec2:AuthorizeSecurityGroupIngress"): "SecurityGroupIngress (no inbound rules)",
    ("AWS::Lambda::Function", "lambda:PutFunctionConcurrency"): "ReservedConcurrentExecutions",
    ("AWS::Lambda::Function", "s3:GetObjectVersion"): "Code.S3ObjectVersion",
    ("AWS::Lambda::Function", "ec2:DescribeSubnets"): "VpcConfig",
    ("AWS::Lambda::Function", "ec2:DescribeVpcs"): "VpcConfig",
    ("AWS::Lambda::Function", "elasticfilesystem:DescribeMountTargets"): "FileSystemConfigs",
    ("AWS::Lambda::Function", "s3files:ListMountTargets"): "FileSystemConfigs",
    ("AWS::Lambda::Function", "kms:CreateGrant"): KMS,
    ("AWS::Lambda::Function", "kms:Decrypt"): KMS,
    ("AWS::Lambda::Function", "kms:DescribeKey"): KMS,
    ("AWS::Lambda::Function", "kms:Encrypt"): KMS,
    ("AWS::Lambda::Function", "kms:GenerateDataKey"): KMS,
    ("AWS::Lambda::Function", "lambda:GetCodeSigningConfig"): "CodeSigningConfigArn",
    ("AWS::Lambda::Function", "lambda:GetFunctionCodeSigningConfig"): "CodeSigningConfigArn",
    ("AWS::Lambda::Function", "lambda:GetLayerVersion"): "Layers",
    ("AWS::Lambda::Function", "lambda:GetRuntimeManagementConfig"): "RuntimeManagementConfig",
    ("AWS::Lambda::Function", "lambda:PutRuntimeManagementConfig"): "RuntimeManagementConfig",
    ("AWS::Lambda::Function", "lambda:AssociateRuntimeAlias"): "RuntimeManagementConfig (runtime version pinning)",
    ("AWS::Lambda::Function", "lambda:PutFunctionRecursionConfig"): "RecursiveLoop",
    ("AWS::Lambda::Function", "lambda:GetFunctionRecursionConfig"): "RecursiveLoop",
    ("AWS::Lambda::Function", "lambda:PutFunctionScalingConfig"): "FunctionScalingConfig",
    ("AWS::Lambda::Function", "lambda:PassCapacityProvider"): "CapacityProviderConfig",
    ("AWS::Logs::LogGroup", "logs:GetDataProtectionPolicy"): "DataProtectionPolicy",
    ("AWS::Logs::LogGroup", "logs:PutDataProtectionPolicy"): "DataProtectionPolicy",
    ("AWS::Logs::LogGroup", "logs:DeleteDataProtectionPolicy"): "DataProtectionPolicy",
    ("AWS::Logs::LogGroup", "logs:CreateLogDelivery"): "DataProtectionPolicy (findings destinations)",
    ("AWS::Logs::LogGroup", "s3:REST.PUT.OBJECT"): "DataProtectionPolicy (findings to S3)",
    ("AWS::Logs::LogGroup", "firehose:TagDeliveryStream"): "DataProtectionPolicy (findings to Firehose)",
    ("AWS::Logs::LogGroup", "logs:PutResourcePolicy"): "ResourcePolicyDocument",
    ("AWS::Logs::LogGroup", "logs:DescribeResourcePolicies"): "ResourcePolicyDocument",
    ("AWS::Logs::LogGroup", "logs:PutIndexPolicy"): "FieldIndexPolicies",
    ("AWS::Logs::LogGroup", "logs:DescribeIndexPolicies"): "FieldIndexPolicies",
    ("AWS::Logs::LogGroup", "logs:PutBearerTokenAuthentication"): "BearerTokenAuthenticationEnabled",
}


def _uses(prop: str, rtype: str, stack) -> bool:
    """Does a resource of this type set the property (a path like Code.S3ObjectVersion)?"""
    path = prop.split(" ", 1)[0].split(".")
    for r in stack["Resources"].values():
        if r["Type"] != rtype:
            continue
        node = r.get("Properties") or {}
        for part in path:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return True
    return False


def test_handler_permissions_are_granted_by_the_user_policy():
    problems = policy_check.check_provider_permissions(excluded=EXCLUDED)
    assert not problems, "templates/iam/easytdv-user-policy.json misses:\n" + "\n".join(problems)


def test_exclusions_are_real_unused_properties():
    stack = policy_check.load_stack()
    types = policy_check.stack_resource_types(stack)
    for (rtype, permission), prop in EXCLUDED.items():
        assert rtype in types, f"{rtype} is no longer in stack.yaml: drop its exclusions"
        listed = policy_check.handler_permissions(rtype, "create") + policy_check.handler_permissions(rtype, "delete")
        assert permission in listed, f"{permission} is no longer in {rtype}'s handlers: drop it"
        top = prop.split(" ", 1)[0].split(".", 1)[0]
        assert top in policy_check.provider_schema(rtype)["properties"], f"{prop} is not a property of {rtype}"
        assert not _uses(prop, rtype, stack), f"stack.yaml now sets {rtype}.{top}: grant {permission} instead"


def test_the_schemas_are_read():
    # the check is only worth something if it sees the handlers' lists
    assert "iam:TagRole" in policy_check.handler_permissions("AWS::IAM::Role", "create")
    assert "logs:PutRetentionPolicy" in policy_check.handler_permissions("AWS::Logs::LogGroup", "create")
    assert set(policy_check.stack_resource_types()) >= {"AWS::IAM::Role", "AWS::Lambda::Function"}
