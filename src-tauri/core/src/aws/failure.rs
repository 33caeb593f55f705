//! One classifier for every AWS failure: what kind of trouble an SDK error
//! is, whatever the service. The pipeline, the account checks and the
//! permission preflight each turn a [`Failure`] into their own plain-words
//! error, but they never sort AWS error codes themselves.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of trouble a failed AWS call is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No answer from AWS: connection, DNS, TLS, time-out.
    Unreachable,
    /// The SDK found no credentials to sign with (a profile that does not
    /// exist, an empty chain); AWS was not asked.
    NoCredentials,
    /// An SSO session that must be renewed with `aws sso login`.
    SsoExpired,
    /// The caller may not do this.
    Denied,
    /// Temporary credentials (session token, SSO, assumed role) ran out.
    ExpiredCredentials,
    /// AWS does not know the access key.
    UnknownKey,
    /// The secret does not match the access key.
    WrongSecret,
    /// The computer's clock is too far from AWS's.
    ClockSkew,
    /// The region is not enabled for the account.
    OptInRequired,
    /// Too many requests: retry later.
    Throttled,
    /// An account quota (vCPUs, instances, spot requests) is reached.
    QuotaExceeded,
    /// AWS has no capacity for this machine here right now, or the zone
    /// does not offer the type.
    NoCapacity,
    /// AWS had an internal problem (5xx): retry later.
    ServerError,
    /// Anything else: AWS refused for a reason given in the message.
    Other,
}

impl FailureKind {
    /// Worth retrying the same call after a while (the caller did nothing wrong).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            FailureKind::Unreachable | FailureKind::Throttled | FailureKind::ServerError
        )
    }
}

/// The facts of one failed AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// The AWS error code (`AccessDenied`, …), when AWS answered.
    pub code: Option<String>,
    /// AWS's message, or the error chain when AWS was not reached.
    pub message: String,
}

/// The kind of an answered failure, from its code and message.
pub fn kind_of_code(code: &str, message: &str) -> FailureKind {
    if message.to_ascii_lowercase().contains("signature expired") {
        return FailureKind::ClockSkew;
    }
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedAccess"
        | "AuthorizationError"
        | "AuthorizationErrorException" => FailureKind::Denied,
        "ExpiredToken" | "ExpiredTokenException" | "TokenRefreshRequired" | "RequestExpired" => {
            FailureKind::ExpiredCredentials
        }
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "AuthFailure" => FailureKind::UnknownKey,
        "SignatureDoesNotMatch" | "IncompleteSignature" | "InvalidSignatureException" => {
            FailureKind::WrongSecret
        }
        "RequestTimeTooSkewed" => FailureKind::ClockSkew,
        "OptInRequired" => FailureKind::OptInRequired,
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "SlowDown"
        | "ProvisionedThroughputExceededException"
        | "PriorRequestNotComplete"
        | "EC2ThrottledException" => FailureKind::Throttled,
        "VcpuLimitExceeded"
        | "InstanceLimitExceeded"
        | "MaxSpotInstanceCountExceeded"
        | "ResourceLimitExceeded"
        | "ServiceQuotaExceededException" => FailureKind::QuotaExceeded,
        "InsufficientInstanceCapacity"
        | "InsufficientCapacity"
        | "InsufficientHostCapacity"
        | "InsufficientReservedInstanceCapacity"
        | "Unsupported"
        | "SpotMaxPriceTooLow" => FailureKind::NoCapacity,
        "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "InternalServiceError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "Unavailable" => FailureKind::ServerError,
        _ => FailureKind::Other,
    }
}

/// Message fragments of an unanswered call that mean "the network".
const NETWORK_SIGNS: &[&str] = &[
    "error trying to connect",
    "connection refused",
    "connection reset",
    "connection closed",
    "broken pipe",
    "dns error",
    "failed to lookup address",
    "name or service not known",
    "network is unreachable",
    "no route to host",
    "timed out",
    "timeout",
    "tls handshake",
    "io error",
];

/// The kind of a call that got no answer, from the SDK's error chain.
pub fn kind_of_unanswered(message: &str, timeout: bool) -> FailureKind {
    let lower = message.to_lowercase();
    if lower.contains("sso") && (lower.contains("expired") || lower.contains("cached sso token")) {
        return FailureKind::SsoExpired;
    }
    let credentials = ["credential", "profile", "token"]
        .iter()
        .any(|s| lower.contains(s));
    let network = timeout || NETWORK_SIGNS.iter().any(|s| lower.contains(s));
    if credentials && !network {
        if lower.contains("sso") {
            return FailureKind::SsoExpired;
        }
        return FailureKind::NoCredentials;
    }
    FailureKind::Unreachable
}

/// Sorts one SDK error.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let timeout = match err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    };
    let chain = || DisplayErrorContext(err).to_string();
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            let message = chain();
            Failure {
                kind: kind_of_unanswered(&message, timeout),
                code: None,
                message,
            }
        }
        SdkError::ResponseError(_) => Failure {
            // A reply that could not be read (cut connection, a proxy's page).
            kind: FailureKind::Unreachable,
            code: None,
            message: chain(),
        },
        _ => {
            let code = err.code().map(str::to_string);
            let message = err.message().map(str::to_string).unwrap_or_else(chain);
            let status = match err {
                SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
                _ => None,
            };
            let mut kind = kind_of_code(code.as_deref().unwrap_or_default(), &message);
            if kind == FailureKind::Other && status.is_some_and(|s| s >= 500) {
                kind = FailureKind::ServerError;
            }
            if kind == FailureKind::Other && status == Some(429) {
                kind = FailureKind::Throttled;
            }
            Failure {
                kind,
                code,
                message,
            }
        }
    }
}

/// The error code of an SDK error, if the service sent one.
pub fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureKind::*;

    #[test]
    fn real_error_codes() {
        let cases = [
            ("AccessDenied", Denied),
            ("AccessDeniedException", Denied),
            ("UnauthorizedOperation", Denied),
            ("AuthorizationError", Denied),
            ("ExpiredToken", ExpiredCredentials),
            ("ExpiredTokenException", ExpiredCredentials),
            ("RequestExpired", ExpiredCredentials),
            ("InvalidClientTokenId", UnknownKey),
            ("UnrecognizedClientException", UnknownKey),
            ("InvalidAccessKeyId", UnknownKey),
            ("AuthFailure", UnknownKey),
            ("SignatureDoesNotMatch", WrongSecret),
            ("RequestTimeTooSkewed", ClockSkew),
            ("OptInRequired", OptInRequired),
            ("Throttling", Throttled),
            ("ThrottlingException", Throttled),
            ("RequestLimitExceeded", Throttled),
            ("TooManyRequestsException", Throttled),
            ("SlowDown", Throttled),
            ("VcpuLimitExceeded", QuotaExceeded),
            ("InstanceLimitExceeded", QuotaExceeded),
            ("MaxSpotInstanceCountExceeded", QuotaExceeded),
            ("ResourceLimitExceeded", QuotaExceeded),
            ("InsufficientInstanceCapacity", NoCapacity),
            ("Unsupported", NoCapacity),
            ("SpotMaxPriceTooLow", NoCapacity),
            ("InternalError", ServerError),
            ("ServiceUnavailable", ServerError),
            ("ValidationError", Other),
            ("InvalidParameterValue", Other),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_of_code(code, "m"), kind, "{code}");
        }
        assert_eq!(
            kind_of_code(
                "SignatureDoesNotMatch",
                "Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z"
            ),
            ClockSkew
        );
    }

    #[test]
    fn transient_kinds() {
        assert!(
            Throttled.is_transient() && Unreachable.is_transient() && ServerError.is_transient()
        );
        assert!(!Denied.is_transient() && !QuotaExceeded.is_transient() && !Other.is_transient());
    }

    #[test]
    fn unanswered_calls() {
        assert_eq!(
            kind_of_unanswered("dispatch failure: io error: error trying to connect: dns error: failed to lookup address information", false),
            Unreachable
        );
        assert_eq!(kind_of_unanswered("", true), Unreachable);
        assert_eq!(kind_of_unanswered("dispatch failure", false), Unreachable);
        assert_eq!(
            kind_of_unanswered("dispatch failure: other: the credential provider was not enabled: no providers in chain provided credentials", false),
            NoCredentials
        );
        assert_eq!(
            kind_of_unanswered(
                "an error occurred while loading credentials: profile `nope` was not defined",
                false
            ),
            NoCredentials
        );
        assert_eq!(
            kind_of_unanswered("failed to load the cached SSO token: failed to read `/home/u/.aws/sso/cache/x.json`", false),
            SsoExpired
        );
        assert_eq!(
            kind_of_unanswered("the SSO token has expired and cannot be refreshed", false),
            SsoExpired
        );
    }
}
