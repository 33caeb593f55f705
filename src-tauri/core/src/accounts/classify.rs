//! Turning an AWS failure into an `AccountError` a person understands.
//!
//! `classify_failure` is a pure function of the facts of the failure, so
//! every case is unit-tested without AWS; `classify_sdk` extracts those facts
//! from an SDK error.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::error::AccountError;
use super::model::AccountKind;
use crate::aws::failure::{self, FailureKind};
use crate::aws::CredentialSource;
use crate::regions;

/// What is known about one failed AWS call.
#[derive(Debug, Clone, Copy)]
pub struct FailureFacts<'a> {
    /// The AWS error code (`InvalidClientTokenId`, …), when AWS answered.
    pub code: Option<&'a str>,
    /// AWS's message, or the error chain when AWS was not reached.
    pub message: &'a str,
    /// The request never got an answer (connection, DNS, credentials provider).
    pub dispatch_failure: bool,
    pub timeout: bool,
    pub kind: AccountKind,
    pub region: &'a str,
    /// The AWS CLI profile, for profile accounts.
    pub profile: Option<&'a str>,
    /// The sandbox address, for sandbox accounts.
    pub endpoint: Option<&'a str>,
}

/// The error to show for a failed AWS call.
pub fn classify_failure(f: &FailureFacts<'_>) -> AccountError {
    let kind = if f.dispatch_failure || f.timeout {
        failure::kind_of_unanswered(f.message, f.timeout)
    } else {
        failure::kind_of_code(f.code.unwrap_or_default(), f.message)
    };
    account_error(kind, f)
}

/// One classified failure, told for this account.
fn account_error(kind: FailureKind, f: &FailureFacts<'_>) -> AccountError {
    let profile = f.profile.map(str::to_string);
    let profile_name = || f.profile.unwrap_or("default").to_string();
    let unanswered = matches!(
        kind,
        FailureKind::Unreachable | FailureKind::NoCredentials | FailureKind::SsoExpired
    );
    if unanswered && f.kind == AccountKind::Sandbox {
        return AccountError::SandboxUnreachable {
            endpoint: f.endpoint.unwrap_or("the local sandbox").to_string(),
        };
    }
    match kind {
        FailureKind::Unreachable => AccountError::NoNetwork {
            detail: short_detail(f.message, f.timeout),
        },
        FailureKind::SsoExpired => AccountError::SsoExpired {
            profile: profile_name(),
        },
        FailureKind::NoCredentials if f.message.to_lowercase().contains("was not defined") => {
            AccountError::ProfileNotFound(profile_name())
        }
        FailureKind::NoCredentials => AccountError::NoCredentials {
            profile,
            detail: f.message.to_string(),
        },
        FailureKind::ClockSkew => AccountError::ClockSkew,
        FailureKind::UnknownKey if regions::is_opt_in(f.region) => AccountError::RegionNotEnabled {
            region: f.region.to_string(),
        },
        FailureKind::UnknownKey => AccountError::UnknownAccessKey,
        FailureKind::WrongSecret => AccountError::WrongSecret,
        FailureKind::ExpiredCredentials => AccountError::SessionExpired { profile },
        FailureKind::OptInRequired => AccountError::RegionNotEnabled {
            region: f.region.to_string(),
        },
        FailureKind::Denied => AccountError::AccessDenied {
            message: f.message.to_string(),
        },
        _ => AccountError::Aws {
            code: f.code.filter(|c| !c.is_empty()).map(str::to_string),
            message: fallback_message(f.message),
        },
    }
}

fn short_detail(message: &str, timeout: bool) -> String {
    if timeout {
        "no answer in time".to_string()
    } else if message.is_empty() {
        "the connection failed".to_string()
    } else {
        message.to_string()
    }
}

fn fallback_message(message: &str) -> String {
    if message.is_empty() {
        "no details were given".to_string()
    } else {
        message.to_string()
    }
}

/// The facts of an SDK error, classified for this credential source.
pub fn classify_sdk<E>(
    err: &SdkError<E, HttpResponse>,
    source: &CredentialSource,
    region: &str,
) -> AccountError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let found = failure::classify(err);
    let timeout = matches!(err, SdkError::TimeoutError(_))
        || matches!(err, SdkError::DispatchFailure(d) if d.is_timeout());
    let (kind, profile, endpoint) = describe_source(source);
    account_error(
        found.kind,
        &FailureFacts {
            code: found.code.as_deref(),
            message: &found.message,
            dispatch_failure: found.code.is_none(),
            timeout,
            kind,
            region,
            profile,
            endpoint,
        },
    )
}

/// The account kind, profile and endpoint of a credential source.
pub fn describe_source(source: &CredentialSource) -> (AccountKind, Option<&str>, Option<&str>) {
    // `if let` rather than `match`: other sources (the SDK's default chain)
    // behave like a profile.
    if let CredentialSource::Static { .. } = source {
        (AccountKind::Keys, None, None)
    } else if let CredentialSource::Sandbox { endpoint } = source {
        (AccountKind::Sandbox, None, Some(endpoint.as_str()))
    } else if let CredentialSource::Profile { name } = source {
        (AccountKind::Profile, Some(name.as_str()), None)
    } else {
        (AccountKind::Profile, None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explain;

    fn facts(code: Option<&'static str>, message: &'static str) -> FailureFacts<'static> {
        FailureFacts {
            code,
            message,
            dispatch_failure: false,
            timeout: false,
            kind: AccountKind::Keys,
            region: "eu-west-3",
            profile: None,
            endpoint: None,
        }
    }

    fn code_of(f: FailureFacts<'_>) -> &'static str {
        classify_failure(&f).code()
    }

    #[test]
    fn unknown_key() {
        let f = facts(
            Some("InvalidClientTokenId"),
            "The security token included in the request is invalid.",
        );
        assert_eq!(code_of(f), "aws_key_unknown");
        assert_eq!(
            code_of(facts(Some("InvalidAccessKeyId"), "")),
            "aws_key_unknown"
        );
    }

    #[test]
    fn region_not_enabled_for_opt_in_regions() {
        let f = FailureFacts {
            region: "me-central-1",
            ..facts(Some("InvalidClientTokenId"), "invalid")
        };
        let err = classify_failure(&f);
        assert_eq!(err.code(), "region_not_enabled");
        assert!(err.hint().unwrap_or_default().contains("Middle East (UAE)"));
        assert_eq!(
            code_of(facts(Some("OptInRequired"), "")),
            "region_not_enabled"
        );
    }

    #[test]
    fn wrong_secret() {
        let f = facts(
            Some("SignatureDoesNotMatch"),
            "The request signature we calculated does not match the signature you provided.",
        );
        assert_eq!(code_of(f), "aws_secret_wrong");
    }

    #[test]
    fn expired_session_token() {
        assert_eq!(
            code_of(facts(
                Some("ExpiredToken"),
                "The security token included in the request is expired"
            )),
            "aws_session_expired"
        );
        assert_eq!(
            code_of(facts(Some("ExpiredTokenException"), "")),
            "aws_session_expired"
        );
        let f = FailureFacts {
            kind: AccountKind::Profile,
            profile: Some("work"),
            ..facts(Some("ExpiredToken"), "")
        };
        assert!(classify_failure(&f)
            .hint()
            .unwrap_or_default()
            .contains("aws sso login --profile work"));
    }

    #[test]
    fn expired_sso_session() {
        let f = FailureFacts {
            dispatch_failure: true,
            kind: AccountKind::Profile,
            profile: Some("work"),
            ..facts(None, "dispatch failure: other: an error occurred while loading credentials: the SSO token has expired and cannot be refreshed")
        };
        let err = classify_failure(&f);
        assert_eq!(err.code(), "aws_sso_expired");
        assert!(err
            .hint()
            .unwrap_or_default()
            .contains("aws sso login --profile work"));
        let f = FailureFacts {
            message: "dispatch failure: other: failed to load the cached SSO token: failed to read `/home/u/.aws/sso/cache/x.json`: No such file or directory (os error 2)",
            ..f
        };
        assert_eq!(code_of(f), "aws_sso_expired");
    }

    #[test]
    fn clock_skew() {
        assert_eq!(
            code_of(facts(Some("RequestTimeTooSkewed"), "")),
            "clock_skew"
        );
        assert_eq!(
            code_of(facts(
                Some("SignatureDoesNotMatch"),
                "Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z"
            )),
            "clock_skew"
        );
        assert_eq!(
            code_of(facts(
                Some("InvalidSignatureException"),
                "Signature expired: 20260101T000000Z"
            )),
            "clock_skew"
        );
    }

    #[test]
    fn no_network() {
        let f = FailureFacts {
            dispatch_failure: true,
            ..facts(None, "dispatch failure: io error: error trying to connect: dns error: failed to lookup address information")
        };
        assert_eq!(code_of(f), "network_unreachable");
        let f = FailureFacts {
            timeout: true,
            ..facts(None, "timeout")
        };
        assert_eq!(code_of(f), "network_unreachable");
        let f = FailureFacts {
            dispatch_failure: true,
            ..facts(None, "")
        };
        assert_eq!(code_of(f), "network_unreachable");
    }

    #[test]
    fn sandbox_unreachable() {
        let f = FailureFacts {
            dispatch_failure: true,
            kind: AccountKind::Sandbox,
            endpoint: Some("http://127.0.0.1:9"),
            ..facts(None, "dispatch failure: io error: error trying to connect: tcp connect error: Connection refused (os error 111)")
        };
        let err = classify_failure(&f);
        assert_eq!(err.code(), "sandbox_unreachable");
        assert!(err.to_string().contains("http://127.0.0.1:9"));
        assert!(err.hint().unwrap_or_default().contains("tests/sandbox/run"));
        let f = FailureFacts {
            dispatch_failure: false,
            timeout: true,
            ..f
        };
        assert_eq!(code_of(f), "sandbox_unreachable");
    }

    #[test]
    fn access_denied() {
        let f = facts(Some("AccessDenied"), "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: sts:GetCallerIdentity");
        let err = classify_failure(&f);
        assert_eq!(err.code(), "aws_access_denied");
        assert!(err.to_string().contains("not authorized"));
        assert_eq!(
            code_of(facts(Some("UnauthorizedOperation"), "")),
            "aws_access_denied"
        );
    }

    #[test]
    fn missing_profile_and_credentials() {
        let base = FailureFacts {
            dispatch_failure: true,
            kind: AccountKind::Profile,
            profile: Some("nope"),
            ..facts(None, "")
        };
        let f = FailureFacts { message: "dispatch failure: other: an error occurred while loading credentials: profile `nope` was not defined: not in config", ..base };
        assert_eq!(code_of(f), "profile_not_found");
        let f = FailureFacts { message: "dispatch failure: other: the credential provider was not enabled: no providers in chain provided credentials", ..base };
        assert_eq!(code_of(f), "aws_credentials_missing");
    }

    #[test]
    fn other_errors_keep_code_and_message() {
        let err = classify_failure(&facts(Some("Throttling"), "Rate exceeded"));
        assert_eq!(err.code(), "aws_error");
        assert!(
            err.to_string().contains("Throttling") && err.to_string().contains("Rate exceeded")
        );
        assert_eq!(code_of(facts(None, "")), "aws_error");
    }
}
