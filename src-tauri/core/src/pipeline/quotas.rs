//! EC2 on-demand vCPU quotas: checked before anything is created, because
//! new accounts often may run 0 vCPUs of GPU machines and RunInstances then
//! fails only at the very end of the set-up.

use super::error::{aws_error, PipelineError};
use super::machine::InstanceTypeInfo;
use crate::aws::failure::FailureKind;
use crate::aws::AwsContext;

/// The Service Quotas code and the family name of a machine type's
/// on-demand vCPU quota (`None`: a family without one we know of).
pub fn vcpu_quota(instance_type: &str) -> Option<(&'static str, &'static str)> {
    let family = instance_type.split('.').next().unwrap_or("");
    let letters: String = family
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || *c == '-')
        .collect();
    Some(match letters.trim_end_matches('-') {
        "inf" => ("L-1945791B", "Inf"),
        "trn" => ("L-2C3B7624", "Trn"),
        "dl" => ("L-6E869C2A", "DL"),
        "vt" => ("L-DB2E81BA", "G and VT"),
        "u" => ("L-43DA4232", "High Memory"),
        "mac" | "hpc" => return None,
        l => match l.chars().next()? {
            'g' => ("L-DB2E81BA", "G and VT"),
            'p' => ("L-417A185B", "P"),
            'f' => ("L-74FC7D96", "F"),
            'x' => ("L-7295265B", "X"),
            'a' | 'c' | 'd' | 'h' | 'i' | 'm' | 'r' | 't' | 'z' => ("L-1216C47A", "Standard"),
            _ => return None,
        },
    })
}

/// Where to ask AWS for more of a quota.
pub fn quota_link(region: &str, code: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/{code}")
}

/// Refuses a machine the account may not run at all. A quota that cannot
/// be read (no permission, no Service Quotas) never blocks: the launch will
/// tell, with the same message.
pub async fn check_vcpus(ctx: &AwsContext, info: &InstanceTypeInfo) -> Result<(), PipelineError> {
    check_vcpus_times(ctx, info, 1).await
}

/// [`check_vcpus`] for `count` such machines running at once (a sweep's).
pub async fn check_vcpus_times(
    ctx: &AwsContext,
    info: &InstanceTypeInfo,
    count: u32,
) -> Result<(), PipelineError> {
    let Some((code, family)) = vcpu_quota(&info.name) else {
        return Ok(());
    };
    let out = ctx
        .service_quotas()
        .get_service_quota()
        .service_code("ec2")
        .quota_code(code)
        .send()
        .await;
    let value = match out {
        Ok(out) => out.quota().and_then(|q| q.value()),
        Err(e) => {
            let failure = crate::aws::failure::classify(&e);
            if failure.kind.is_transient() || failure.kind == FailureKind::Unreachable {
                return Err(aws_error("read your account's vCPU quota", e));
            }
            tracing::warn!(code, error = %failure.message, "the vCPU quota could not be read; not checked");
            return Ok(());
        }
    };
    let needed = u32::try_from(info.vcpus).unwrap_or(0).saturating_mul(count);
    match value {
        Some(quota) if quota < f64::from(needed) => Err(PipelineError::QuotaTooLow {
            family: family.to_string(),
            instance_type: if count > 1 {
                format!("{count} × {} at once", info.name)
            } else {
                info.name.clone()
            },
            quota: quota.max(0.0) as u32,
            needed,
            link: quota_link(ctx.region(), code),
        }),
        _ => Ok(()),
    }
}

/// The quota a `VcpuLimitExceeded` message names ("…your current vCPU
/// limit of 0 allows…").
pub fn limit_in_message(message: &str) -> Option<u32> {
    let rest = message.split("limit of ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_map_to_their_quota() {
        for (t, code) in [
            ("t3.medium", "L-1216C47A"),
            ("m7i-flex.large", "L-1216C47A"),
            ("c6gn.xlarge", "L-1216C47A"),
            ("g5.xlarge", "L-DB2E81BA"),
            ("g5g.2xlarge", "L-DB2E81BA"),
            ("g4ad.xlarge", "L-DB2E81BA"),
            ("vt1.3xlarge", "L-DB2E81BA"),
            ("p4d.24xlarge", "L-417A185B"),
            ("p5.48xlarge", "L-417A185B"),
            ("inf2.xlarge", "L-1945791B"),
            ("trn1.2xlarge", "L-2C3B7624"),
            ("x2idn.16xlarge", "L-7295265B"),
            ("u-6tb1.metal", "L-43DA4232"),
            ("f1.2xlarge", "L-74FC7D96"),
            ("dl1.24xlarge", "L-6E869C2A"),
        ] {
            assert_eq!(vcpu_quota(t).map(|q| q.0), Some(code), "{t}");
        }
        assert_eq!(vcpu_quota("mac2.metal"), None);
        assert!(quota_link("eu-west-3", "L-DB2E81BA").ends_with("/ec2/quotas/L-DB2E81BA"));
    }

    #[test]
    fn the_limit_in_an_aws_message() {
        let m = "You have requested more vCPU capacity than your current vCPU limit of 8 allows for the instance bucket that the specified instance type belongs to.";
        assert_eq!(limit_in_message(m), Some(8));
        assert_eq!(limit_in_message("no number"), None);
    }
}
