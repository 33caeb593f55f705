//! The easyTDV base (`templates/base.yaml`; issue 22, item 2): what every EC2
//! run of an account and region shares — the machines' role and instance
//! profile, their security group, the launcher — created once, updated when
//! this build's template or launcher differs or the account's VPC or EBS key
//! changed, deleted on request. The per-run guarantees come from IAM policy
//! variables (`templates/README.md`, "base.yaml"). Runs do not use it yet.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, Parameter, ResourceStatus, StackStatus};
use sha2::{Digest, Sha256};

use super::error::{aws_error, PipelineError};
pub use super::machine_folder::{bring_outputs, send_checkpoints, send_inputs};
use super::poll::{poll_until_capped, Notice};
use super::stack;
use super::storage::RunBucket;
use super::{assets, words::stack_words};
use crate::aws::AwsContext;

/// The base's stack, one per account and region.
pub const STACK_NAME: &str = "easytdv-base";
/// The template, embedded like the run's.
pub const TEMPLATE: &str = include_str!("../../../../templates/base.yaml");
/// Where the launcher's zip goes in the bucket: `easytdv/lambda/<SHA-256>.zip`
/// (the template accepts no other key).
const CODE_FOLDER: &str = "easytdv/lambda";
const UPDATE_LIMIT: Duration = Duration::from_secs(20 * 60);

/// What runs need of the base: its outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The base stack's id (one per account and region).
    pub stack_id: String,
    pub version: String,
    pub launch_function: String,
    pub instance_profile_arn: String,
    /// The machines' role's unique id: a machine's `aws:userid` is
    /// `<machine_role_id>:<instance id>`, which names its folder.
    pub machine_role_id: String,
    pub security_group_id: String,
    pub vpc_id: String,
    /// The customer-managed default EBS key the launcher may use, if any.
    pub ebs_kms_key_arn: Option<String>,
}

impl Base {
    /// The machine's own folder of a run: `easytdv/m/<aws:userid>/<run>`.
    pub fn machine_folder(&self, instance_id: &str, run_id: &str) -> String {
        format!("easytdv/m/{}:{instance_id}/{run_id}", self.machine_role_id)
    }
}

/// A run as the base's launcher takes it in its event (each field is
/// checked there as strictly as `stack.yaml`'s parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct BaseRun {
    pub run_id: String,
    pub ami_id: String,
    pub instance_type: String,
    pub disk_size_gb: u32,
    pub max_runtime_hours: f64,
    pub bucket: String,
    /// `easytdv/runs/<run_id>` (the launcher refuses anything else).
    pub run_prefix: String,
    /// A spot machine first, on demand when none can be had.
    pub spot: bool,
}

impl BaseRun {
    fn event(&self) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.run_id,
            "ami_id": self.ami_id,
            "instance_type": self.instance_type,
            "disk_size_gb": self.disk_size_gb,
            "max_runtime_hours": self.max_runtime_hours,
            "bucket": self.bucket,
            "run_prefix": self.run_prefix,
            "spot": self.spot,
        })
    }
}

/// Starts the run's `launch`-th machine with the base's launcher (the same
/// zones, capacity answers and reuse as a per-run launcher).
pub async fn launch(
    ctx: &AwsContext,
    base: &Base,
    run: &BaseRun,
    launch: u32,
    subnets: &[super::machine::LaunchSubnet],
) -> Result<super::instance::Launched, PipelineError> {
    super::instance::invoke_launcher(
        ctx,
        &base.launch_function,
        launch,
        subnets,
        &run.instance_type,
        run.event(),
    )
    .await
}

/// What the account and region need of the base now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The VPC machines start in (the region's default VPC).
    pub vpc_id: String,
    /// The account's default EBS key when it is customer-managed.
    pub ebs_kms_key_arn: Option<String>,
}

/// Where the base stands against what this build wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Missing,
    Ready(Base),
    /// Another version, VPC or EBS key: updated before use.
    Outdated(Base),
    /// Being created, updated or deleted (by another window, say): waited for.
    Busy(String),
    /// A failed creation or update: deleted and created again.
    Broken(String),
}

/// This build's version of the base: from the template and the launcher's
/// code, so a change to either updates every account's base on its next use.
pub fn version() -> Result<String, PipelineError> {
    Ok(version_of(&code()?))
}

fn version_of(zip: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(TEMPLATE.as_bytes());
    hash.update(zip);
    let digest = hash.finalize();
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % 1_000_000;
    n.to_string()
}

/// The launcher's name: it changes with anything the function is made of,
/// so an update makes a new function instead of changing one in place (the
/// user needs no `lambda:UpdateFunctionCode`: see base.yaml's LauncherName).
fn launcher_name(version: &str, vpc_id: &str, bucket: &str, code_key: &str) -> String {
    let mut hash = Sha256::new();
    for part in [version, vpc_id, bucket, code_key] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = format!("{:x}", hash.finalize());
    format!("easytdv-base-launch-{}", &digest[..12])
}

fn code() -> Result<Vec<u8>, PipelineError> {
    assets::lambda_zip().map_err(|e| PipelineError::State(format!("build the launcher: {e}")))
}

fn code_key(zip: &[u8]) -> String {
    format!("{CODE_FOLDER}/{:x}.zip", Sha256::digest(zip))
}

/// Reads the base's stack: missing, ready, outdated, busy or broken.
pub async fn standing(ctx: &AwsContext, wanted: &Wanted) -> Result<Standing, PipelineError> {
    let out = match ctx
        .cloudformation()
        .describe_stacks()
        .stack_name(STACK_NAME)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if stack::is_missing(&e) => return Ok(Standing::Missing),
        Err(e) => return Err(aws_error("read easyTDV's shared resources", e)),
    };
    let Some(found) = out.stacks().first() else {
        return Ok(Standing::Missing);
    };
    let status = found.stack_status().cloned();
    let text = status
        .as_ref()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "UNKNOWN".into());
    let base = match status {
        None | Some(StackStatus::DeleteComplete) => return Ok(Standing::Missing),
        Some(
            StackStatus::CreateComplete
            | StackStatus::UpdateComplete
            | StackStatus::UpdateRollbackComplete,
        ) => {
            let outputs: HashMap<&str, &str> = found
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?, o.output_value()?)))
                .collect();
            let params: HashMap<&str, &str> = found
                .parameters()
                .iter()
                .filter_map(|p| Some((p.parameter_key()?, p.parameter_value().unwrap_or(""))))
                .collect();
            let get = |k: &str| outputs.get(k).map(|v| v.to_string()).unwrap_or_default();
            Base {
                stack_id: found.stack_id().unwrap_or_default().to_string(),
                version: get("Version"),
                launch_function: get("LaunchFunctionName"),
                instance_profile_arn: get("InstanceProfileArn"),
                machine_role_id: get("MachineRoleId"),
                security_group_id: get("SecurityGroupId"),
                vpc_id: get("VpcId"),
                ebs_kms_key_arn: params
                    .get("EbsKmsKeyArn")
                    .filter(|v| !v.is_empty())
                    .map(|v| v.to_string()),
            }
        }
        Some(s) if s.as_str().ends_with("_IN_PROGRESS") => return Ok(Standing::Busy(text)),
        Some(_) => return Ok(Standing::Broken(text)),
    };
    let current = base.version == version()?
        && base.vpc_id == wanted.vpc_id
        && base.ebs_kms_key_arn == wanted.ebs_kms_key_arn
        && !base.launch_function.is_empty()
        && !base.machine_role_id.is_empty();
    Ok(if current {
        Standing::Ready(base)
    } else {
        Standing::Outdated(base)
    })
}

/// The base as `wanted`, created or updated first when needed. The
/// launcher's code goes to `bucket` (Lambda keeps its own copy).
pub async fn ensure(
    ctx: &AwsContext,
    bucket: &RunBucket<'_>,
    wanted: &Wanted,
    notice: &Notice<'_>,
) -> Result<Base, PipelineError> {
    // Each turn changes the stack once; a base that still is not ready after
    // a few is not going to be.
    for _ in 0..4 {
        match standing(ctx, wanted).await? {
            Standing::Ready(base) => return Ok(base),
            Standing::Busy(status) => {
                notice(&if status == "CREATE_IN_PROGRESS" {
                    "Creating easyTDV's shared resources in this region (once)".to_string()
                } else {
                    format!(
                        "easyTDV's shared resources are busy ({}); waiting",
                        stack_words(&status)
                    )
                });
                wait_settled(ctx, notice).await?;
            }
            Standing::Broken(status) => {
                notice(&format!(
                    "Deleting easyTDV's shared resources left {}",
                    stack_words(&status)
                ));
                stack::delete(ctx, STACK_NAME, notice).await?;
            }
            Standing::Missing => {
                notice("Creating easyTDV's shared resources in this region (once)");
                let params = parameters(bucket, wanted).await?;
                let id = match stack::start_create_tagged(ctx, STACK_NAME, None, TEMPLATE, params)
                    .await
                {
                    Ok(id) => id,
                    // Another run (another window) created it meanwhile: use theirs.
                    Err(PipelineError::Aws { code, .. }) if code == "AlreadyExistsException" => {
                        continue
                    }
                    Err(e) => return Err(e),
                };
                stack::wait_created(ctx, &id, &|s| notice(&stack_words(s))).await?;
            }
            Standing::Outdated(_) => {
                notice("Updating easyTDV's shared resources in this region");
                let params = parameters(bucket, wanted).await?;
                update(ctx, params, notice).await?;
            }
        }
    }
    Err(PipelineError::StackFailed {
        reason: "easyTDV's shared resources did not become ready".into(),
    })
}

/// Starts creating the base when the region has none, without waiting:
/// a run's first steps go on meanwhile, and `ensure` then waits for it.
/// True when this call started it.
pub async fn start(
    ctx: &AwsContext,
    bucket: &RunBucket<'_>,
    wanted: &Wanted,
) -> Result<bool, PipelineError> {
    if standing(ctx, wanted).await? != Standing::Missing {
        return Ok(false);
    }
    let params = parameters(bucket, wanted).await?;
    match stack::start_create_tagged(ctx, STACK_NAME, None, TEMPLATE, params).await {
        Ok(_) => Ok(true),
        Err(PipelineError::Aws { code, .. }) if code == "AlreadyExistsException" => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes the base ("Remove easyTDV from this account"); false if there was none.
pub async fn remove(ctx: &AwsContext, notice: &Notice<'_>) -> Result<bool, PipelineError> {
    stack::delete(ctx, STACK_NAME, notice).await
}

/// Uploads the launcher's code and returns the stack's parameters.
async fn parameters(
    bucket: &RunBucket<'_>,
    wanted: &Wanted,
) -> Result<Vec<Parameter>, PipelineError> {
    let zip = code()?;
    let key = code_key(&zip);
    let version = version_of(&zip);
    bucket.put(&key, zip).await?;
    let launcher = launcher_name(&version, &wanted.vpc_id, bucket.name(), &key);
    Ok(vec![
        stack::parameter("Version", version),
        stack::parameter("VpcId", &wanted.vpc_id),
        stack::parameter("LambdaCodeBucket", bucket.name()),
        stack::parameter("LambdaCodeKey", key),
        stack::parameter("LauncherName", launcher),
        stack::parameter(
            "EbsKmsKeyArn",
            wanted.ebs_kms_key_arn.clone().unwrap_or_default(),
        ),
    ])
}

async fn update(
    ctx: &AwsContext,
    params: Vec<Parameter>,
    notice: &Notice<'_>,
) -> Result<(), PipelineError> {
    let sent = ctx
        .cloudformation()
        .update_stack()
        .stack_name(STACK_NAME)
        .template_body(TEMPLATE)
        .set_parameters(Some(params))
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await;
    if let Err(e) = sent {
        // Nothing differs after all (e.g. another window updated it first).
        if stack::message_of(&e).is_some_and(|m| m.contains("No updates are to be performed")) {
            return Ok(());
        }
        // Another window (or the wizard's preparation) is updating it:
        // wait, then the caller looks again.
        if stack::message_of(&e).is_some_and(|m| m.contains("_IN_PROGRESS state")) {
            wait_settled(ctx, notice).await?;
            return Ok(());
        }
        return Err(aws_error("update easyTDV's shared resources", e));
    }
    match wait_settled(ctx, notice).await? {
        Some(StackStatus::UpdateComplete) => Ok(()),
        other => Err(PipelineError::StackFailed {
            reason: update_failure(ctx).await.unwrap_or_else(|| {
                format!(
                    "the update of easyTDV's shared resources ended in {}",
                    other
                        .map(|s| s.as_str().to_string())
                        .unwrap_or("DELETE_COMPLETE".into())
                )
            }),
        }),
    }
}

/// Waits until the base is not being changed; returns where it ended.
async fn wait_settled(
    ctx: &AwsContext,
    notice: &Notice<'_>,
) -> Result<Option<StackStatus>, PipelineError> {
    poll_until_capped(
        "easyTDV's shared resources",
        UPDATE_LIMIT,
        stack::STACK_LOOK_GAP,
        notice,
        || async {
            let s = stack::status(ctx, STACK_NAME).await?;
            Ok(match s {
                Some(s) if s.as_str().ends_with("_IN_PROGRESS") => None,
                other => Some(other),
            })
        },
    )
    .await
}

/// The first resource that failed the last update, in plain words.
async fn update_failure(ctx: &AwsContext) -> Option<String> {
    let out = ctx
        .cloudformation()
        .describe_stack_events()
        .stack_name(STACK_NAME)
        .send()
        .await
        .ok()?;
    out.stack_events()
        .iter()
        .take_while(|e| {
            !(e.logical_resource_id() == Some(STACK_NAME)
                && e.resource_status() == Some(&ResourceStatus::UpdateInProgress))
        })
        .filter(|e| e.resource_status() == Some(&ResourceStatus::UpdateFailed))
        .last()
        .map(|e| {
            format!(
                "{} ({}): {}",
                e.logical_resource_id().unwrap_or("resource"),
                e.resource_type().unwrap_or("?"),
                e.resource_status_reason().unwrap_or("no reason given")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launchers_name_changes_with_anything_it_is_made_of() {
        let name = |v, vpc, b, k| launcher_name(v, vpc, b, k);
        let first = name("1", "vpc-1", "b", "easytdv/lambda/a.zip");
        let suffix = first.strip_prefix("easytdv-base-launch-").unwrap();
        assert!(
            suffix.len() == 12 && suffix.chars().all(|c| c.is_ascii_hexdigit()),
            "{first}"
        );
        assert_eq!(first, name("1", "vpc-1", "b", "easytdv/lambda/a.zip"));
        for other in [
            name("2", "vpc-1", "b", "easytdv/lambda/a.zip"),
            name("1", "vpc-2", "b", "easytdv/lambda/a.zip"),
            name("1", "vpc-1", "c", "easytdv/lambda/a.zip"),
            name("1", "vpc-1", "b", "easytdv/lambda/b.zip"),
            name("1", "vpc-", "1b", "easytdv/lambda/a.zip"),
        ] {
            assert_ne!(first, other);
        }
    }

    #[test]
    fn the_version_is_six_digits_at_most_and_stable() {
        let v = version().unwrap();
        assert!(
            !v.is_empty() && v.len() <= 6 && v.bytes().all(|b| b.is_ascii_digit()),
            "{v}"
        );
        assert_eq!(v, version().unwrap());
    }

    #[test]
    fn the_code_key_is_the_one_the_template_accepts() {
        let key = code_key(b"zip");
        let hash = key
            .strip_prefix("easytdv/lambda/")
            .and_then(|k| k.strip_suffix(".zip"))
            .unwrap();
        assert_eq!(hash.len(), 64);
        assert!(hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(TEMPLATE.contains(r#"AllowedPattern: "^easytdv/lambda/[0-9a-f]{64}\\.zip$""#));
    }

    #[test]
    fn a_machines_folder_is_named_by_its_aws_userid() {
        let base = Base {
            stack_id: String::new(),
            version: "1".into(),
            launch_function: "easytdv-base-launch-0123456789ab".into(),
            instance_profile_arn: String::new(),
            machine_role_id: "AROAEXAMPLE".into(),
            security_group_id: String::new(),
            vpc_id: String::new(),
            ebs_kms_key_arn: None,
        };
        assert_eq!(
            base.machine_folder("i-0abc", "20261206-101500-a1b2c3"),
            "easytdv/m/AROAEXAMPLE:i-0abc/20261206-101500-a1b2c3"
        );
    }
}
