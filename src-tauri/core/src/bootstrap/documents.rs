//! The three IAM documents of an account's one-time easyTDV setup, as the
//! app ships them (`templates/iam/`, checked by tests/policy).

use serde::Serialize;

/// The permissions boundary every role of a run carries (its name is in
/// templates/stack.yaml and in the user policy's condition).
pub const BOUNDARY_NAME: &str = "easytdv-boundary";
/// What a run changes: create, start, run, clean up.
pub const USER_POLICY_NAME: &str = "easytdv-user-policy";
/// What the app reads: machines, images, prices, quotas, its own permissions.
pub const READ_POLICY_NAME: &str = "easytdv-read-policy";
/// The IAM user the setup makes for easyTDV.
pub const DEFAULT_USER_NAME: &str = "easytdv";

pub const BOUNDARY: &str = include_str!("../../../../templates/iam/easytdv-boundary.json");
pub const USER_POLICY: &str = include_str!("../../../../templates/iam/easytdv-user-policy.json");
pub const READ_POLICY: &str = include_str!("../../../../templates/iam/easytdv-read-policy.json");

/// One document, as the setup screen shows it with Copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDocument {
    /// The customer managed policy's name in IAM (it must be exactly this).
    pub name: String,
    /// What it is for, in plain words.
    pub purpose: String,
    /// Attach it to the easyTDV identity (the boundary is not attached).
    pub attach: bool,
    pub json: String,
}

/// The documents in the order a person creates them.
pub fn documents() -> Vec<PolicyDocument> {
    vec![
        PolicyDocument {
            name: BOUNDARY_NAME.into(),
            purpose: "The most any role easyTDV creates may ever do (a permissions boundary). Create it; do not attach it to anyone.".into(),
            attach: false,
            json: BOUNDARY.into(),
        },
        PolicyDocument {
            name: USER_POLICY_NAME.into(),
            purpose: "What a run changes: uploads, the run's cloud resources, the machine, the clean-up. Roles only with the boundary above.".into(),
            attach: true,
            json: USER_POLICY.into(),
        },
        PolicyDocument {
            name: READ_POLICY_NAME.into(),
            purpose: "What easyTDV reads: machine types, images, prices, quotas, and its own permissions.".into(),
            attach: true,
            json: READ_POLICY.into(),
        },
    ]
}

/// `arn:<partition>:iam::<account>:policy/<name>`.
pub fn policy_arn(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:policy/{name}")
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition_of(arn: &str) -> &str {
    arn.split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// The same policy, whatever the whitespace and key order.
pub fn same_document(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documents_are_json_and_name_the_boundary() {
        for d in documents() {
            let v: serde_json::Value = serde_json::from_str(&d.json).unwrap();
            assert_eq!(v["Version"], "2012-10-17", "{}", d.name);
        }
        assert!(USER_POLICY.contains(&format!("policy/{BOUNDARY_NAME}")));
        assert!(include_str!("../../../../templates/stack.yaml")
            .contains(&format!("policy/{BOUNDARY_NAME}")));
        assert!(same_document("{\"a\": [1, 2]}", "{ \"a\":[1,2] }"));
        assert!(!same_document("{\"a\": [1, 2]}", "{\"a\": [2, 1]}"));
        assert_eq!(partition_of("arn:aws-cn:iam::1:user/x"), "aws-cn");
    }
}
