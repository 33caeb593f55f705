//! The easyTDV base (`templates/base.yaml`; issue 22, item 2): what every EC2
//! run of an account and region shares — the machines' role and instance
//! profile, their security group, the launcher — created once, updated when
//! this build's template or launcher differs or the account's VPC or EBS key
//! changed, deleted on request. The per-run guarantees come from IAM policy
//! variables (`templates/README.md`, "base.yaml"). Runs do not use it yet.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudformation::types::StackStatus;
use sha2::{Digest, Sha256};

use super::assets;
use super::error::{aws_error, PipelineError};
pub use super::machine_folder::{bring_outputs, send_checkpoints, send_inputs};
use super::stack;
use crate::aws::AwsContext;

/// The base's stack, one per account and region.
mod change;
pub use change::{ensure, remove, start, Early};

pub const STACK_NAME: &str = "easytdv-base";
/// The template, embedded like the run's.
pub const TEMPLATE: &str = include_str!("../../../../../templates/base.yaml");
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
