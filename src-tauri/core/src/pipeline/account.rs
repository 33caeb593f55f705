//! Is the account ready for runs? easyTDV's one-time setup made its
//! permissions boundary; without it every run's stack would fail on its
//! first role (the user policy creates roles only with the boundary), so
//! both engines check it before anything is created.

use super::error::PipelineError;
use crate::aws::AwsContext;
use crate::bootstrap::{self, BootstrapError};

/// Refuses a run in an account without the boundary. A user who may not
/// read it (a policy attached before the boundary existed) is let through:
/// CloudFormation then says what is missing.
pub async fn require_setup(ctx: &AwsContext, account: &str) -> Result<(), PipelineError> {
    match bootstrap::boundary_exists(ctx, account, "aws").await {
        Ok(true) => Ok(()),
        Ok(false) => Err(PipelineError::AccountNotSetUp {
            account: account.to_string(),
        }),
        Err(BootstrapError::NotAllowed { .. }) => {
            tracing::warn!(
                "cannot read easyTDV's permissions boundary (iam:GetPolicy denied); going on"
            );
            Ok(())
        }
        Err(BootstrapError::Unreachable { .. }) => Err(PipelineError::Network {
            op: "check the account's easyTDV setup",
        }),
        Err(e) => Err(PipelineError::Aws {
            op: "check the account's easyTDV setup",
            code: "Unknown".into(),
            message: e.to_string(),
        }),
    }
}
