//! The IAM actions a training run needs, each with what it is for, in plain
//! words.

use super::model::MissingPermission;

/// One action a run performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needed {
    pub action: &'static str,
    pub purpose: &'static str,
}

const fn need(action: &'static str, purpose: &'static str) -> Needed {
    Needed { action, purpose }
}

/// Every action of a run: prepare, create, launch, train, clean up.
pub const NEEDED: &[Needed] = &[
    need(
        "s3:CreateBucket",
        "create the bucket that holds your script and results",
    ),
    need("s3:PutBucketPublicAccessBlock", "keep that bucket private"),
    need("s3:PutEncryptionConfiguration", "encrypt that bucket"),
    need("s3:ListBucket", "find the files of a run"),
    need("s3:PutObject", "upload your script and requirements"),
    need("s3:GetObject", "download the training results"),
    need("s3:DeleteObject", "remove a run's files when you clean up"),
    need(
        "cloudformation:CreateStack",
        "create the run's resources in one go",
    ),
    need(
        "cloudformation:DescribeStacks",
        "follow the creation of the run's resources",
    ),
    need(
        "cloudformation:DescribeStackEvents",
        "explain why creating the resources failed",
    ),
    need(
        "cloudformation:DeleteStack",
        "delete the run's resources when you clean up",
    ),
    need(
        "iam:CreateRole",
        "create the training machine's limited role",
    ),
    need(
        "iam:PutRolePolicy",
        "give that role only the permissions a run needs",
    ),
    need(
        "iam:AttachRolePolicy",
        "let the machine receive commands (Systems Manager)",
    ),
    need(
        "iam:CreateInstanceProfile",
        "attach the role to the training machine",
    ),
    need(
        "iam:AddRoleToInstanceProfile",
        "attach the role to the training machine",
    ),
    need(
        "iam:PassRole",
        "hand the role to the training machine and the launcher",
    ),
    need(
        "iam:RemoveRoleFromInstanceProfile",
        "remove the machine's role when you clean up",
    ),
    need(
        "iam:DeleteInstanceProfile",
        "remove the machine's role when you clean up",
    ),
    need(
        "iam:DetachRolePolicy",
        "remove the machine's role when you clean up",
    ),
    need(
        "iam:DeleteRolePolicy",
        "remove the machine's role when you clean up",
    ),
    need(
        "iam:DeleteRole",
        "remove the machine's role when you clean up",
    ),
    need(
        "lambda:CreateFunction",
        "create the small launcher function",
    ),
    need(
        "lambda:InvokeFunction",
        "start the training machine through the launcher",
    ),
    need(
        "lambda:DeleteFunction",
        "delete the launcher when you clean up",
    ),
    need(
        "ec2:DescribeImages",
        "find a current machine image for your region",
    ),
    need("ec2:DescribeVpcs", "find your default network"),
    need(
        "ec2:CreateSecurityGroup",
        "create the machine's firewall (no inbound access)",
    ),
    need("ec2:RunInstances", "create the training machine"),
    need(
        "ec2:CreateTags",
        "label the machine with its run, so it can be found and deleted",
    ),
    need(
        "ec2:DescribeInstances",
        "follow the training machine's state",
    ),
    need(
        "ec2:TerminateInstances",
        "stop and delete the training machine",
    ),
    need(
        "ec2:DeleteSecurityGroup",
        "delete the machine's firewall when you clean up",
    ),
    need("ssm:GetParameter", "look up the current machine image"),
    need(
        "ssm:DescribeInstanceInformation",
        "know when the machine is ready for commands",
    ),
    need(
        "ssm:SendCommand",
        "install your requirements and run your training script",
    ),
    need(
        "ssm:GetCommandInvocation",
        "follow the commands and show their output",
    ),
];

/// The AWS managed policy that grants a service's actions.
fn managed_policy(action: &str) -> &'static str {
    match action.split(':').next().unwrap_or_default() {
        "s3" => "AmazonS3FullAccess",
        "cloudformation" => "AWSCloudFormationFullAccess",
        "iam" => "IAMFullAccess",
        "lambda" => "AWSLambda_FullAccess",
        "ec2" => "AmazonEC2FullAccess",
        "ssm" => "AmazonSSMFullAccess",
        _ => "AdministratorAccess",
    }
}

/// An action AWS says is denied.
pub fn denied(needed: &Needed) -> MissingPermission {
    MissingPermission {
        action: needed.action.to_string(),
        purpose: needed.purpose.to_string(),
        fix: format!(
            "Ask your administrator to allow {} (for example by attaching the AWS managed policy {}), or use an account with AdministratorAccess.",
            needed.action,
            managed_policy(needed.action)
        ),
    }
}

/// An action whose permission could not be checked.
pub fn unchecked(needed: &Needed) -> MissingPermission {
    MissingPermission {
        action: needed.action.to_string(),
        purpose: needed.purpose.to_string(),
        fix: format!(
            "easyTDV could not check this one (your user may not simulate its own permissions). If a run fails here, ask your administrator to allow {} (for example with {}), or use an account with AdministratorAccess.",
            needed.action,
            managed_policy(needed.action)
        ),
    }
}

/// The needed entry of an action name.
pub fn find(action: &str) -> Option<&'static Needed> {
    NEEDED
        .iter()
        .find(|n| n.action.eq_ignore_ascii_case(action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_unique_and_explained() {
        for n in NEEDED {
            assert_eq!(
                NEEDED.iter().filter(|o| o.action == n.action).count(),
                1,
                "{}",
                n.action
            );
            assert!(n.action.contains(':') && !n.purpose.is_empty());
        }
        let m = denied(find("ec2:RunInstances").unwrap());
        assert_eq!(m.purpose, "create the training machine");
        assert!(m.fix.contains("AmazonEC2FullAccess") && m.fix.contains("AdministratorAccess"));
        assert!(unchecked(find("iam:passrole").unwrap())
            .fix
            .contains("could not check"));
    }
}
