//! The permission preflight: does this account have what a run needs?
//! It never creates anything: IAM policy simulation of the caller, or, when
//! that is not allowed, dry-run calls where AWS offers them; the rest is
//! reported as "could not check" rather than guessed.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::classify::{classify_sdk, describe_source};
use super::error::AccountError;
use super::model::{AccountKind, Identity, PermissionCheck, PermissionReport};
use super::permissions::{self, Needed, NEEDED};
use super::simulation::{self, RunPlace, Verdict};
use crate::aws::failure::{self, FailureKind};
use crate::aws::{AwsContext, CredentialSource};
use crate::bootstrap::documents;

/// The public SSM parameter of the current Amazon Linux image.
const AMI_PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/// Whose policies to simulate, read from the caller ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account root user may do everything.
    Root,
    /// An IAM user or role ARN, usable as is.
    Arn(String),
    /// A role session: the role's ARN without its path (and its name, to
    /// look the real ARN up).
    AssumedRole { role_name: String, arn: String },
    /// Federated users and anything else simulation cannot take.
    Unsupported,
}

/// `arn:aws:sts::123:assumed-role/Role/session` → the role
/// `arn:aws:iam::123:role/Role`; users and roles stay as they are.
pub fn principal_of(caller_arn: &str) -> Principal {
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    let [_, partition, service, _, account, resource] = parts[..] else {
        return Principal::Unsupported;
    };
    match (service, resource.split_once('/')) {
        ("iam", None) if resource == "root" => Principal::Root,
        ("iam", Some(("user" | "role", _))) => Principal::Arn(caller_arn.to_string()),
        ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
            Some((role, _)) if !role.is_empty() => Principal::AssumedRole {
                role_name: role.to_string(),
                arn: format!("arn:{partition}:iam::{account}:role/{role}"),
            },
            _ => Principal::Unsupported,
        },
        _ => Principal::Unsupported,
    }
}

enum Probe {
    Allowed,
    Denied,
    Unknown,
}

/// Checks every action of [`NEEDED`] for the caller of `ctx`.
pub async fn check_permissions(
    ctx: &AwsContext,
    source: &CredentialSource,
    identity: &Identity,
) -> Result<PermissionReport, AccountError> {
    let (kind, _, _) = describe_source(source);
    if kind == AccountKind::Sandbox {
        // moto enforces no IAM policy and has no SimulatePrincipalPolicy.
        return Ok(report(PermissionCheck::Sandbox, Vec::new(), Vec::new()));
    }
    let arn = match principal_of(&identity.arn) {
        Principal::Root => return Ok(report(PermissionCheck::RootUser, Vec::new(), Vec::new())),
        Principal::Arn(arn) => Some(arn),
        Principal::AssumedRole { role_name, arn } => {
            Some(role_arn(ctx, &role_name).await.unwrap_or(arn))
        }
        Principal::Unsupported => None,
    };
    if let Some(arn) = arn {
        if let Some((denied, unknown)) = simulate(ctx, source, &arn, identity).await? {
            let missing = NEEDED
                .iter()
                .filter(|n| denied.contains(&n.action.as_str()))
                .map(permissions::denied);
            let unchecked = NEEDED
                .iter()
                .filter(|n| unknown.contains(&n.action.as_str()))
                .map(permissions::unchecked);
            return Ok(report(
                PermissionCheck::Simulated,
                missing.collect(),
                unchecked.collect(),
            ));
        }
    }
    dry_run(ctx, source).await
}

fn report(
    check: PermissionCheck,
    missing: Vec<super::model::MissingPermission>,
    unchecked: Vec<super::model::MissingPermission>,
) -> PermissionReport {
    PermissionReport {
        check,
        missing,
        unchecked,
    }
}

/// The real ARN of a role (with its path), if the caller may read it.
async fn role_arn(ctx: &AwsContext, role_name: &str) -> Option<String> {
    let out = ctx
        .iam()
        .get_role()
        .role_name(role_name)
        .send()
        .await
        .ok()?;
    out.role().map(|r| r.arn().to_string())
}

/// (denied, could not check) actions, or `None` when simulation is not
/// possible. One simulation per statement, with a run's own resources and
/// context (`simulation`), so scoped statements are judged as a run meets them.
async fn simulate(
    ctx: &AwsContext,
    source: &CredentialSource,
    arn: &str,
    identity: &Identity,
) -> Result<Option<(Vec<&'static str>, Vec<&'static str>)>, AccountError> {
    let user_name = arn
        .split_once(":user/")
        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path));
    let place = RunPlace {
        partition: arn.split(':').nth(1).unwrap_or("aws"),
        account: &identity.account_id,
        region: ctx.region(),
        user_name,
    };
    let mut requests = simulation::requests(documents::USER_POLICY, &place);
    requests.extend(simulation::requests(documents::READ_POLICY, &place));
    let (mut denied, mut unknown) = (Vec::new(), Vec::new());
    let mut answered = false;
    for request in &requests {
        let mut marker: Option<String> = None;
        loop {
            let call = ctx
                .iam()
                .simulate_principal_policy()
                .policy_source_arn(arn)
                .set_action_names(Some(request.actions.clone()))
                .set_resource_arns(
                    (!request.resources.is_empty()).then(|| request.resources.clone()),
                )
                .set_context_entries(
                    (!request.context.is_empty()).then(|| request.context_entries()),
                )
                .set_marker(marker.clone())
                .send()
                .await;
            let out = match call {
                Ok(out) => out,
                Err(err) => {
                    unanswered(&err, source, ctx.region())?;
                    if !answered {
                        return Ok(None); // no simulation at all (denied, unsupported): dry runs instead
                    }
                    tracing::warn!(sid = %request.sid, error = %failure::classify(&err).message, "this statement could not be simulated");
                    unknown.extend(
                        request
                            .actions
                            .iter()
                            .filter_map(|a| permissions::find(a))
                            .map(|n| n.action.as_str()),
                    );
                    break;
                }
            };
            answered = true;
            for result in out.evaluation_results() {
                let Some(n) = permissions::find(result.eval_action_name()) else {
                    continue;
                };
                match simulation::verdict(result) {
                    Verdict::Allowed => {}
                    Verdict::Denied => denied.push(n.action.as_str()),
                    Verdict::Unknown => unknown.push(n.action.as_str()),
                }
            }
            match out.marker() {
                Some(m) if out.is_truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
    }
    // An action asked in several statements is missing if any says so.
    unknown.retain(|a| !denied.contains(a));
    denied.sort_unstable();
    denied.dedup();
    unknown.sort_unstable();
    unknown.dedup();
    Ok(Some((denied, unknown)))
}

/// `Err` for failures that end the preflight (no network, expired
/// credentials); `Ok` for "AWS said no to this call".
fn unanswered<E>(
    err: &SdkError<E, HttpResponse>,
    source: &CredentialSource,
    region: &str,
) -> Result<(), AccountError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify_sdk(err, source, region) {
        AccountError::AccessDenied { .. } | AccountError::Aws { .. } => Ok(()),
        fatal => Err(fatal),
    }
}

fn probe<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    source: &CredentialSource,
    region: &str,
) -> Result<Probe, AccountError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let err = match result {
        Ok(_) => return Ok(Probe::Allowed),
        Err(err) => err,
    };
    if err.code() == Some("DryRunOperation") {
        return Ok(Probe::Allowed);
    }
    match failure::classify(&err).kind {
        FailureKind::Denied => Ok(Probe::Denied),
        _ => unanswered(&err, source, region).map(|()| Probe::Unknown),
    }
}

/// What dry-run calls can tell; everything else is "could not check".
async fn dry_run(
    ctx: &AwsContext,
    source: &CredentialSource,
) -> Result<PermissionReport, AccountError> {
    let region = ctx.region();
    let ec2 = ctx.ec2();
    let mut probes: Vec<(&str, Probe)> = Vec::new();

    let ami = ctx.ssm().get_parameter().name(AMI_PARAMETER).send().await;
    let image_id = ami
        .as_ref()
        .ok()
        .and_then(|o| o.parameter())
        .and_then(|p| p.value())
        .map(str::to_string);
    probes.push(("ssm:GetParameter", probe(ami, source, region)?));
    let r = ec2
        .describe_images()
        .owners("amazon")
        .dry_run(true)
        .send()
        .await;
    probes.push(("ec2:DescribeImages", probe(r, source, region)?));
    let r = ec2.describe_vpcs().dry_run(true).send().await;
    probes.push(("ec2:DescribeVpcs", probe(r, source, region)?));
    let r = ec2.describe_instances().dry_run(true).send().await;
    probes.push(("ec2:DescribeInstances", probe(r, source, region)?));
    let r = ec2
        .create_security_group()
        .group_name("easytdv-preflight")
        .description("easyTDV permission check (dry run, never created)")
        .dry_run(true)
        .send()
        .await;
    probes.push(("ec2:CreateSecurityGroup", probe(r, source, region)?));
    if let Some(image_id) = image_id {
        let r = ec2
            .run_instances()
            .image_id(image_id)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .dry_run(true)
            .send()
            .await;
        probes.push(("ec2:RunInstances", probe(r, source, region)?));
    }

    let outcome = |n: &Needed| probes.iter().find(|(a, _)| *a == n.action).map(|(_, p)| p);
    let missing = NEEDED
        .iter()
        .filter(|n| matches!(outcome(n), Some(Probe::Denied)))
        .map(permissions::denied);
    let unchecked = NEEDED
        .iter()
        .filter(|n| matches!(outcome(n), None | Some(Probe::Unknown)))
        .map(permissions::unchecked);
    Ok(report(
        PermissionCheck::DryRun,
        missing.collect(),
        unchecked.collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals() {
        assert_eq!(
            principal_of("arn:aws:iam::123456789012:root"),
            Principal::Root
        );
        assert_eq!(
            principal_of("arn:aws:iam::123456789012:user/alice"),
            Principal::Arn("arn:aws:iam::123456789012:user/alice".into())
        );
        assert_eq!(
            principal_of("arn:aws:iam::123456789012:user/team/alice"),
            Principal::Arn("arn:aws:iam::123456789012:user/team/alice".into())
        );
        assert_eq!(
            principal_of(
                "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_abc/alice@example.com"
            ),
            Principal::AssumedRole {
                role_name: "AWSReservedSSO_Admin_abc".into(),
                arn: "arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_abc".into()
            }
        );
        assert_eq!(
            principal_of("arn:aws-cn:sts::123456789012:assumed-role/R/s"),
            Principal::AssumedRole {
                role_name: "R".into(),
                arn: "arn:aws-cn:iam::123456789012:role/R".into()
            }
        );
        assert_eq!(
            principal_of("arn:aws:sts::123456789012:federated-user/bob"),
            Principal::Unsupported
        );
        assert_eq!(
            principal_of("arn:aws:sts::123456789012:assumed-role/"),
            Principal::Unsupported
        );
        assert_eq!(principal_of("not an arn"), Principal::Unsupported);
    }
}
