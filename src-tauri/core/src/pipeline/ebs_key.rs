//! The account's default EBS encryption key. The training machine's root
//! volume is encrypted without naming a key, so EBS uses this one; when it
//! is a customer-managed KMS key, whoever launches the machine (the run's
//! launcher) needs AWS's documented KMS permissions on it, which the stack
//! grants on exactly that key. Read before anything is created.

use super::error::{aws_error, PipelineError};
use crate::aws::failure::{self, FailureKind};
use crate::aws::AwsContext;

/// What `GetEbsDefaultKmsKeyId` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EbsDefaultKey {
    /// AWS's own key (`alias/aws/ebs`): usable by anyone allowed to launch.
    AwsManaged,
    /// A customer-managed key, by its ARN.
    Customer(String),
    /// Anything else (an alias of a customer key, a bare key id): IAM
    /// policies need the key's ARN.
    NotAnArn(String),
    /// The answer could not be read (no permission): not checked.
    Unread,
}

impl EbsDefaultKey {
    /// The customer-managed key the launcher must be allowed to use.
    pub fn customer_arn(&self) -> Option<&str> {
        match self {
            EbsDefaultKey::Customer(arn) => Some(arn),
            _ => None,
        }
    }
}

/// Sorts `GetEbsDefaultKmsKeyId`'s `KmsKeyId`: `alias/aws/ebs` (or its ARN)
/// while the default is AWS's own key, a key ARN for a customer key.
pub fn classify(value: &str) -> EbsDefaultKey {
    let value = value.trim();
    if value.is_empty() || value == "alias/aws/ebs" || value.ends_with(":alias/aws/ebs") {
        return EbsDefaultKey::AwsManaged;
    }
    if is_key_arn(value) {
        return EbsDefaultKey::Customer(value.to_string());
    }
    EbsDefaultKey::NotAnArn(value.to_string())
}

/// `arn:<partition>:kms:<region>:<12-digit account>:key/<id>`.
fn is_key_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let id = resource.strip_prefix("key/").unwrap_or("");
    arn == "arn"
        && partition.starts_with("aws")
        && service == "kms"
        && !region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !id.is_empty()
        && id.len() <= 128
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Reads the region's default EBS key. Refuses a key named other than by
/// its ARN (`EbsKeyNotAnArn`, with what to do); a denied read is not
/// checked (the launch then reports AWS's own reason if it fails).
pub async fn default_key(ctx: &AwsContext) -> Result<EbsDefaultKey, PipelineError> {
    let out = match ctx.ec2().get_ebs_default_kms_key_id().send().await {
        Ok(out) => out,
        Err(e) => {
            let found = failure::classify(&e);
            if found.kind == FailureKind::Denied {
                tracing::warn!(error = %found.message, "the default EBS key could not be read; not checked");
                return Ok(EbsDefaultKey::Unread);
            }
            return Err(aws_error(
                "read your account's default disk encryption key",
                e,
            ));
        }
    };
    match classify(out.kms_key_id().unwrap_or_default()) {
        EbsDefaultKey::NotAnArn(value) => Err(PipelineError::EbsKeyNotAnArn {
            value,
            region: ctx.region().to_string(),
        }),
        key => Ok(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explain;

    #[test]
    fn the_answers_of_get_ebs_default_kms_key_id() {
        // The AWS CLI's documented answers: AWS's own key, then a customer key.
        assert_eq!(classify("alias/aws/ebs"), EbsDefaultKey::AwsManaged);
        assert_eq!(
            classify("arn:aws:kms:us-west-2:123456789012:alias/aws/ebs"),
            EbsDefaultKey::AwsManaged
        );
        let arn = "arn:aws:kms:us-west-2:123456789012:key/0ea3fef3-80a7-4778-9d8c-1c0c6EXAMPLE";
        assert_eq!(classify(arn), EbsDefaultKey::Customer(arn.into()));
        assert_eq!(classify(arn).customer_arn(), Some(arn));
        let mrk = "arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab";
        assert_eq!(classify(mrk), EbsDefaultKey::Customer(mrk.into()));
        for other in [
            "arn:aws:kms:us-west-2:123456789012:alias/my-ebs-key",
            "alias/my-ebs-key",
            "0ea3fef3-80a7-4778-9d8c-1c0c6EXAMPLE",
            "arn:aws:kms:us-west-2:123456789012:key/*",
            "arn:aws:kms:us-west-2:1234:key/abc",
        ] {
            assert_eq!(
                classify(other),
                EbsDefaultKey::NotAnArn(other.into()),
                "{other}"
            );
            assert_eq!(classify(other).customer_arn(), None);
        }
    }

    #[test]
    fn a_key_named_by_alias_is_refused_with_what_to_do() {
        let e = PipelineError::EbsKeyNotAnArn {
            value: "arn:aws:kms:eu-west-3:123456789012:alias/my-ebs-key".into(),
            region: "eu-west-3".into(),
        };
        assert!(e.to_string().contains("alias/my-ebs-key"), "{e}");
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("aws ec2 modify-ebs-default-kms-key-id --kms-key-id")
                && hint.contains("--region eu-west-3")
                && hint.contains("aws kms describe-key --key-id arn:aws:kms:eu-west-3:123456789012:alias/my-ebs-key"),
            "{hint}"
        );
    }
}
