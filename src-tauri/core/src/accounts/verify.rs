//! Checking that credentials work: STS GetCallerIdentity in the chosen region.

use std::time::Duration;

use super::classify::{classify_failure, classify_sdk, describe_source, FailureFacts};
use super::error::AccountError;
use super::model::Identity;
use crate::aws::{AwsContext, AwsError, CredentialSource};

/// Longest wait for an answer, retries included.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(40);

/// An `AwsContext` for this source, with its errors told as account errors.
pub async fn context(source: &CredentialSource, region: &str) -> Result<AwsContext, AccountError> {
    AwsContext::new(source, region).await.map_err(|e| {
        let message = e.to_string();
        if let AwsError::BadRegion(r) | AwsError::UnknownRegion(r) = e {
            AccountError::RegionInvalid(r)
        } else if let AwsError::BadEndpoint(u) = e {
            AccountError::EndpointInvalid(u)
        } else if let AwsError::SandboxUnreachable(endpoint) = e {
            AccountError::SandboxUnreachable { endpoint }
        } else if matches!(
            e,
            AwsError::NotLoopback(_) | AwsError::NotOurSandbox(_) | AwsError::SandboxKeyUnknown(_)
        ) {
            AccountError::Sandbox(e)
        } else {
            AccountError::Aws {
                code: None,
                message,
            }
        }
    })
}

/// Who these credentials belong to; nothing is saved or created.
pub async fn verify_source(
    source: &CredentialSource,
    region: &str,
) -> Result<Identity, AccountError> {
    let ctx = context(source, region).await?;
    verify_context(&ctx, source).await
}

/// GetCallerIdentity through an existing context.
pub async fn verify_context(
    ctx: &AwsContext,
    source: &CredentialSource,
) -> Result<Identity, AccountError> {
    let region = ctx.region();
    let call = ctx.sts().get_caller_identity().send();
    let out = match tokio::time::timeout(VERIFY_TIMEOUT, call).await {
        Ok(Ok(out)) => out,
        Ok(Err(err)) => return Err(classify_sdk(&err, source, region)),
        Err(_) => {
            let (kind, profile, endpoint) = describe_source(source);
            return Err(classify_failure(&FailureFacts {
                code: None,
                message: "no answer in time",
                dispatch_failure: false,
                timeout: true,
                kind,
                region,
                profile,
                endpoint,
            }));
        }
    };
    Ok(Identity {
        account_id: out.account.unwrap_or_default(),
        arn: out.arn.unwrap_or_default(),
    })
}
