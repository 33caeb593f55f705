//! The IAM actions a person needs to use easyTDV: read from the two policies
//! the app ships (`templates/iam/easytdv-user-policy.json` and
//! `easytdv-read-policy.json`, shown on the setup screen with a Copy button,
//! and checked against AWS's own data by tests/policy). Each statement's Sid
//! starts with the step that needs it; Deny statements (which keep the
//! permissions boundary in place) are not needs.

use std::sync::LazyLock;

use super::model::MissingPermission;

use crate::bootstrap::documents;

/// One action, and the step of a run that needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    pub action: String,
    pub step: &'static str,
    pub purpose: &'static str,
}

/// The steps a Sid can start with, and what they are for in plain words.
const STEPS: &[(&str, &str, &str)] = &[
    (
        "PrepareFiles",
        "Upload your files",
        "upload your script and requirements and look up machines and images",
    ),
    (
        "CreateCloudResources",
        "Create the cloud resources",
        "create the run's roles, firewall and launcher function",
    ),
    (
        "StartMachine",
        "Start the machine",
        "start the training machine and follow it",
    ),
    (
        "RunTraining",
        "Run your training",
        "install your packages, run train.py and read its results",
    ),
    (
        "CleanUp",
        "Clean up",
        "delete the machine and the cloud resources when the run is over",
    ),
    ("Prices", "Prices", "show what machines cost"),
    (
        "Quotas",
        "Quotas",
        "check how many machines your account may run",
    ),
    (
        "CheckPermissions",
        "Permission check",
        "check these permissions before a run",
    ),
];

/// Every action of the policy, once, with the first step that needs it.
pub static NEEDED: LazyLock<Vec<Needed>> = LazyLock::new(|| {
    let mut all = parse(documents::USER_POLICY);
    for n in parse(documents::READ_POLICY) {
        if !all.iter().any(|o| o.action == n.action) {
            all.push(n);
        }
    }
    all
});

fn parse(policy: &str) -> Vec<Needed> {
    let doc: serde_json::Value = match serde_json::from_str(policy) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "the shipped user policy is not JSON");
            return Vec::new();
        }
    };
    let mut out: Vec<Needed> = Vec::new();
    for statement in doc["Statement"].as_array().into_iter().flatten() {
        if statement["Effect"].as_str() != Some("Allow") {
            continue;
        }
        let sid = statement["Sid"].as_str().unwrap_or("");
        let (step, purpose) = STEPS
            .iter()
            .find(|(prefix, _, _)| sid.starts_with(prefix))
            .map(|(_, step, purpose)| (*step, *purpose))
            .unwrap_or(("easyTDV", "run a training"));
        let actions: Vec<&str> = match &statement["Action"] {
            serde_json::Value::String(a) => vec![a.as_str()],
            serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
            _ => Vec::new(),
        };
        for action in actions {
            if !out.iter().any(|n| n.action == action) {
                out.push(Needed {
                    action: action.to_string(),
                    step,
                    purpose,
                });
            }
        }
    }
    out
}

/// An action AWS says is denied.
pub fn denied(needed: &Needed) -> MissingPermission {
    MissingPermission {
        action: needed.action.clone(),
        purpose: format!("{} (step “{}”)", needed.purpose, needed.step),
        fix: format!(
            "Ask the person who manages your AWS account to attach easyTDV's policy (Setup → “Permissions easyTDV needs” → Copy) to your user, or at least to allow {}.",
            needed.action
        ),
    }
}

/// An action whose permission could not be checked.
pub fn unchecked(needed: &Needed) -> MissingPermission {
    MissingPermission {
        action: needed.action.clone(),
        purpose: format!("{} (step “{}”)", needed.purpose, needed.step),
        fix: format!(
            "easyTDV could not check this one (your user may not simulate its own permissions). If a run fails at “{}”, ask the person who manages your AWS account to attach easyTDV's policy (Setup → Copy).",
            needed.step
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
    fn the_list_is_the_shipped_policy() {
        assert!(NEEDED.len() > 40, "{}", NEEDED.len());
        for action in [
            "s3:PutObject",
            "cloudformation:CreateStack",
            "iam:PassRole",
            "lambda:InvokeFunction",
            "ec2:TerminateInstances",
            "ssm:SendCommand",
            "servicequotas:GetServiceQuota",
            "pricing:GetProducts",
            "ssm:PutParameter",
            "ssm:DeleteParameters",
            "ssm:DescribeParameters",
        ] {
            assert!(find(action).is_some(), "{action}");
        }
        // Deny statements keep the boundary in place: they are not needs.
        assert!(find("iam:PutRolePermissionsBoundary").is_none());
        assert!(
            find("iam:GetPolicy").is_some(),
            "the read policy is read too"
        );
        for n in NEEDED.iter() {
            assert_eq!(NEEDED.iter().filter(|o| o.action == n.action).count(), 1);
            assert_ne!(n.step, "easyTDV", "{} has a Sid of no known step", n.action);
        }
        let m = denied(
            find("ec2:RunInstances")
                .or(find("lambda:InvokeFunction"))
                .unwrap(),
        );
        assert!(m.purpose.contains("step"));
        assert!(m.fix.contains("Copy"));
        assert!(unchecked(find("iam:passrole").unwrap())
            .fix
            .contains("could not check"));
    }

    #[test]
    fn a_statement_of_no_known_step_is_visible() {
        let n = parse(
            r#"{"Statement":[{"Sid":"Other","Effect":"Allow","Action":["a:B","a:B"]},{"Sid":"PrepareFilesX","Effect":"Allow","Action":"s3:X"},{"Sid":"CleanUpKeep","Effect":"Deny","Action":"iam:DeleteRole"}]}"#,
        );
        assert_eq!(n.len(), 2);
        assert_eq!((n[0].step, n[1].step), ("easyTDV", "Upload your files"));
    }
}
