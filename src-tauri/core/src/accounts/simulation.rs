//! IAM's policy simulator, asked the way a real run asks AWS.
//!
//! `SimulatePrincipalPolicy` without resource ARNs evaluates every action
//! against `*`, and without context entries every condition key is
//! missing: a statement scoped to ARNs or to a condition then reads as an
//! implicit deny, and a correct policy shows dozens of false "missing"
//! permissions. So each statement of the shipped policies becomes one
//! simulation with the resources and condition values a run really uses:
//! its Resource patterns with the run's own names in place of the
//! wildcards (bucket `easytdv-<account>-<region>`, run id, stack, roles,
//! function, instance…), and each Condition key with the value the run
//! sends (a PassRole's service, the boundary ARN, a tag…).
//!
//! Reading the answer: `allowed` is allowed; an explicit deny, or an
//! implicit deny with no missing context, is missing; an implicit deny that
//! lists missing context values (the person's own policy wants a key we do
//! not know, e.g. MFA or a source IP) could not be checked.

use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum, EvaluationResult};

/// A sample run id, shaped like the real ones.
const SAMPLE_RUN: &str = "20261206-101500-a1b2c3";

/// One simulation: these actions, on these resources, with this context.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRequest {
    pub sid: String,
    pub actions: Vec<String>,
    /// Empty: the statement is on `*` (no resource-level scope).
    pub resources: Vec<String>,
    /// (key, values, type).
    pub context: Vec<(String, Vec<String>, &'static str)>,
}

impl SimRequest {
    pub fn context_entries(&self) -> Vec<ContextEntry> {
        self.context
            .iter()
            .map(|(key, values, kind)| {
                ContextEntry::builder()
                    .context_key_name(key)
                    .set_context_key_values(Some(values.clone()))
                    .context_key_type(ContextKeyTypeEnum::from(*kind))
                    .build()
            })
            .collect()
    }
}

/// Where the run would be: the names that replace wildcards.
pub struct RunPlace<'a> {
    pub partition: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    /// The caller's user name (`${aws:username}`), when an IAM user.
    pub user_name: Option<&'a str>,
}

impl RunPlace<'_> {
    fn bucket(&self) -> String {
        format!("easytdv-{}-{}", self.account, self.region)
    }

    fn substitute(&self, text: &str) -> String {
        text.replace("${aws:PrincipalAccount}", self.account)
            .replace("${aws:username}", self.user_name.unwrap_or("easytdv"))
    }

    /// A concrete ARN a run would use that the pattern matches.
    fn instantiate(&self, pattern: &str) -> String {
        let pattern = self.substitute(pattern);
        let parts: Vec<&str> = pattern.splitn(6, ':').collect();
        let [_, _, service, region, account, resource] = parts[..] else {
            return pattern.replace('*', SAMPLE_RUN);
        };
        let region = if region == "*" { self.region } else { region };
        let account = if account == "*" {
            self.account
        } else {
            account
        };
        let resource = if service == "s3" {
            // arn:aws:s3:::<bucket>[/<key>]: the bucket is the run's.
            match resource.split_once('/') {
                Some((bucket, key)) => {
                    let bucket = if bucket.contains('*') {
                        self.bucket()
                    } else {
                        bucket.to_string()
                    };
                    format!(
                        "{bucket}/{}",
                        key.replace('*', &format!("runs/{SAMPLE_RUN}/train.py"))
                    )
                }
                None if resource.contains('*') => self.bucket(),
                None => resource.to_string(),
            }
        } else if service == "ssm" && resource.starts_with("parameter/easytdv/runs/") {
            // A run's secret: /easytdv/runs/<run>/secrets/<NAME>.
            resource.replace('*', &format!("{SAMPLE_RUN}/secrets/HF_TOKEN"))
        } else {
            resource.replace('*', SAMPLE_RUN)
        };
        format!(
            "arn:{}:{service}:{region}:{account}:{resource}",
            self.partition
        )
    }

    /// The value a run sends for a condition key the statement tests.
    fn context_value(
        &self,
        operator: &str,
        key: &str,
        values: &[String],
    ) -> Option<(Vec<String>, &'static str)> {
        let first = values.first()?;
        let op = operator.trim_end_matches("IfExists");
        let kind = if op == "Bool" { "boolean" } else { "string" };
        let value = match op {
            "StringLike" | "ArnLike" => {
                if key == "s3:prefix" {
                    format!("easytdv/runs/{SAMPLE_RUN}/")
                } else if op == "ArnLike" {
                    self.instantiate(first)
                } else {
                    self.substitute(first).replace('*', SAMPLE_RUN)
                }
            }
            "StringEquals" | "ArnEquals" | "Bool" => self.substitute(first),
            // A negated operator is satisfied by any other value.
            _ => return None,
        };
        Some((vec![value], kind))
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// One simulation per Allow statement of `policy`.
pub fn requests(policy: &str, place: &RunPlace) -> Vec<SimRequest> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for st in doc["Statement"].as_array().into_iter().flatten() {
        if st["Effect"].as_str() != Some("Allow") {
            continue;
        }
        let patterns = strings(&st["Resource"]);
        let resources = if patterns.iter().any(|p| p == "*") {
            Vec::new()
        } else {
            let mut r: Vec<String> = patterns.iter().map(|p| place.instantiate(p)).collect();
            r.dedup();
            r
        };
        let mut context = Vec::new();
        if let Some(conditions) = st["Condition"].as_object() {
            for (operator, body) in conditions {
                for (key, values) in body.as_object().into_iter().flatten() {
                    if let Some((values, kind)) =
                        place.context_value(operator, key, &strings(values))
                    {
                        context.push((key.clone(), values, kind));
                    }
                }
            }
        }
        // The simulator pairs every action with every resource: each service's
        // actions are asked on that service's resources only.
        let actions = strings(&st["Action"]);
        let mut services: Vec<&str> = actions.iter().filter_map(|a| a.split(':').next()).collect();
        services.sort_unstable();
        services.dedup();
        for service in services {
            let own: Vec<String> = resources
                .iter()
                .filter(|r| r.split(':').nth(2) == Some(service))
                .cloned()
                .collect();
            out.push(SimRequest {
                sid: st["Sid"].as_str().unwrap_or_default().to_string(),
                actions: actions
                    .iter()
                    .filter(|a| a.split(':').next() == Some(service))
                    .cloned()
                    .collect(),
                resources: if own.is_empty() {
                    resources.clone()
                } else {
                    own
                },
                context: context.clone(),
            });
        }
    }
    out
}

/// What IAM said of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied,
    /// Denied only for want of context the simulator could not be given.
    Unknown,
}

fn decision_allows(d: &aws_sdk_iam::types::PolicyEvaluationDecisionType) -> bool {
    d.as_str().eq_ignore_ascii_case("allowed")
}

/// The verdict on one action of a simulation's answer (every resource must be allowed).
pub fn verdict(result: &EvaluationResult) -> Verdict {
    let per_resource = result.resource_specific_results();
    let allowed = if per_resource.is_empty() {
        decision_allows(result.eval_decision())
    } else {
        per_resource
            .iter()
            .all(|r| decision_allows(r.eval_resource_decision()))
    };
    if allowed {
        return Verdict::Allowed;
    }
    let explicit = result
        .eval_decision()
        .as_str()
        .eq_ignore_ascii_case("explicitDeny")
        || per_resource.iter().any(|r| {
            r.eval_resource_decision()
                .as_str()
                .eq_ignore_ascii_case("explicitDeny")
        });
    let missing_context = !result.missing_context_values().is_empty()
        || per_resource
            .iter()
            .any(|r| !r.missing_context_values().is_empty());
    if missing_context && !explicit {
        Verdict::Unknown
    } else {
        Verdict::Denied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::types::{PolicyEvaluationDecisionType as D, ResourceSpecificResult};

    const PLACE: RunPlace = RunPlace {
        partition: "aws",
        account: "123456789012",
        region: "eu-west-3",
        user_name: Some("marie"),
    };

    fn find<'a>(reqs: &'a [SimRequest], action: &str) -> Vec<&'a SimRequest> {
        reqs.iter()
            .filter(|r| r.actions.iter().any(|a| a == action))
            .collect()
    }

    fn shipped() -> Vec<SimRequest> {
        let mut all = requests(crate::bootstrap::documents::USER_POLICY, &PLACE);
        all.extend(requests(crate::bootstrap::documents::READ_POLICY, &PLACE));
        all
    }

    #[test]
    fn each_statement_is_simulated_on_a_runs_own_resources_and_context() {
        let reqs = shipped();
        let create_role = find(&reqs, "iam:CreateRole");
        assert_eq!(create_role.len(), 1);
        assert_eq!(
            create_role[0].resources,
            vec![format!(
                "arn:aws:iam::123456789012:role/easytdv-{SAMPLE_RUN}"
            )]
        );
        assert_eq!(
            create_role[0].context,
            vec![(
                "iam:PermissionsBoundary".to_string(),
                vec!["arn:aws:iam::123456789012:policy/easytdv-boundary".to_string()],
                "string"
            )]
        );
        // Each PassRole is asked for its own role and its own service.
        let pass: Vec<(String, String)> = find(&reqs, "iam:PassRole")
            .iter()
            .map(|r| (r.resources[0].clone(), r.context[0].1[0].clone()))
            .collect();
        assert!(pass.contains(&(
            format!("arn:aws:iam::123456789012:role/easytdv-{SAMPLE_RUN}-launcher"),
            "lambda.amazonaws.com".into()
        )));
        assert!(pass.contains(&(
            format!("arn:aws:iam::123456789012:role/easytdv-{SAMPLE_RUN}-sagemaker"),
            "sagemaker.amazonaws.com".into()
        )));
        // S3 objects in the run's bucket and prefix; ListBucket with the run's prefix.
        let put = find(&reqs, "s3:PutObject");
        assert!(
            put[0].resources[0].starts_with("arn:aws:s3:::easytdv-123456789012-eu-west-3/easytdv/"),
            "{:?}",
            put[0]
        );
        let list = find(&reqs, "s3:ListBucket");
        assert!(list[0]
            .context
            .iter()
            .any(|(k, v, _)| k == "s3:prefix" && v[0].starts_with("easytdv/runs/")));
        // Tag conditions get the run's tag; the caller's own user for ${aws:username}.
        let terminate = find(&reqs, "ec2:TerminateInstances");
        assert!(terminate[0].context.contains(&(
            "aws:ResourceTag/easytdv:app".into(),
            vec!["easytdv".into()],
            "string"
        )));
        let simulate = find(&reqs, "iam:SimulatePrincipalPolicy");
        assert!(simulate[0]
            .resources
            .contains(&"arn:aws:iam::123456789012:user/marie".to_string()));
        // Statements on `*` carry no resource; no statement with a condition goes without context.
        assert!(find(&reqs, "pricing:GetProducts")[0].resources.is_empty());
        for r in &reqs {
            assert!(
                r.resources
                    .iter()
                    .all(|a| a.starts_with("arn:aws:") && !a.contains('*')),
                "{r:?}"
            );
        }
        // Deny statements are not needs.
        assert!(find(&reqs, "iam:PutRolePermissionsBoundary").is_empty());
        // A run's secrets: put and deleted under the run's own path (issue 21).
        let secret = format!(
            "arn:aws:ssm:eu-west-3:123456789012:parameter/easytdv/runs/{SAMPLE_RUN}/secrets/HF_TOKEN"
        );
        for action in ["ssm:PutParameter", "ssm:DeleteParameters"] {
            assert_eq!(
                find(&reqs, action)[0].resources,
                vec![secret.clone()],
                "{action}"
            );
        }
        assert!(find(&reqs, "ssm:DescribeParameters")[0]
            .resources
            .is_empty());
    }

    fn result(decision: D, missing: &[&str]) -> EvaluationResult {
        EvaluationResult::builder()
            .eval_action_name("s3:PutObject")
            .eval_decision(decision)
            .set_missing_context_values(Some(missing.iter().map(|s| s.to_string()).collect()))
            .build()
            .unwrap()
    }

    #[test]
    fn the_simulators_answers_read_right() {
        assert_eq!(verdict(&result(D::Allowed, &[])), Verdict::Allowed);
        assert_eq!(verdict(&result(D::ImplicitDeny, &[])), Verdict::Denied);
        assert_eq!(verdict(&result(D::ExplicitDeny, &[])), Verdict::Denied);
        // Their own policy wants MFA: we cannot know, so "could not check".
        assert_eq!(
            verdict(&result(D::ImplicitDeny, &["aws:MultiFactorAuthPresent"])),
            Verdict::Unknown
        );
        assert_eq!(
            verdict(&result(D::ExplicitDeny, &["aws:SourceIp"])),
            Verdict::Denied
        );
        // Per resource: every resource must be allowed.
        let per = |d1: D, d2: D| {
            EvaluationResult::builder()
                .eval_action_name("ssm:SendCommand")
                .eval_decision(D::ImplicitDeny)
                .resource_specific_results(
                    ResourceSpecificResult::builder()
                        .eval_resource_name("a")
                        .eval_resource_decision(d1)
                        .build()
                        .unwrap(),
                )
                .resource_specific_results(
                    ResourceSpecificResult::builder()
                        .eval_resource_name("b")
                        .eval_resource_decision(d2)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        assert_eq!(verdict(&per(D::Allowed, D::Allowed)), Verdict::Allowed);
        assert_eq!(verdict(&per(D::Allowed, D::ImplicitDeny)), Verdict::Denied);
    }
}
