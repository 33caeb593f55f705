//! `AwsContext`: one place that turns "how to reach AWS" into SDK clients.
//!
//! The pipeline never knows whether it talks to real AWS or to the local
//! sandbox: the only difference is the endpoint override and the credentials
//! chosen here.

use std::time::Duration;

use aws_config::{retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use crate::secret::Sensitive;

mod calls;
pub mod failure;
pub mod sandbox;

pub use calls::CallCounter;

/// How to authenticate. Secrets are `Sensitive` and never printed.
#[derive(Clone, Debug)]
pub enum CredentialSource {
    /// Access keys (from the OS keychain or typed by the user).
    Static {
        access_key_id: String,
        secret_access_key: Sensitive,
        session_token: Option<Sensitive>,
    },
    /// A profile of `~/.aws/config` / `~/.aws/credentials` (SSO included),
    /// resolved by aws-config's profile provider; nothing is copied.
    Profile { name: String },
    /// The local AWS sandbox: an endpoint on this machine, signed with the
    /// access key it was started with ([`sandbox::key_for`]).
    Sandbox { endpoint: String },
    /// The SDK's default chain (environment variables, default profile, SSO…).
    DefaultChain,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    #[error("\"{0}\" is not an AWS region code (expected something like eu-west-3)")]
    BadRegion(String),
    #[error("there is no AWS region \"{0}\"")]
    UnknownRegion(String),
    #[error("the sandbox endpoint \"{0}\" is not an http:// URL")]
    BadEndpoint(String),
    #[error("the sandbox address \"{0}\" is not on this computer")]
    NotLoopback(String),
    #[error("the practice cloud does not answer at {0}")]
    SandboxUnreachable(String),
    #[error("something else answers at {0}, not the practice cloud easyTDV started")]
    NotOurSandbox(String),
    #[error("easyTDV does not know the access key of the sandbox at {0}")]
    SandboxKeyUnknown(String),
}

impl crate::explain::Explain for AwsError {
    fn code(&self) -> &'static str {
        match self {
            AwsError::BadRegion(_) => "bad_region",
            AwsError::UnknownRegion(_) => "unknown_region",
            AwsError::BadEndpoint(_) => "bad_endpoint",
            AwsError::NotLoopback(_) => "sandbox_not_loopback",
            AwsError::SandboxUnreachable(_) => "sandbox_unreachable",
            AwsError::NotOurSandbox(_) => "sandbox_not_ours",
            AwsError::SandboxKeyUnknown(_) => "sandbox_key_unknown",
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            AwsError::BadRegion(_) | AwsError::UnknownRegion(_) => format!(
                "Pick a region from the list, e.g. eu-west-3 for Europe (Paris). Known regions: {}.",
                crate::regions::regions()
                    .iter()
                    .map(|r| r.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            AwsError::BadEndpoint(_) => {
                "The local sandbox address looks like http://127.0.0.1:4566.".into()
            }
            AwsError::NotLoopback(_) => "The practice cloud runs on this computer only: its address starts with http://127.0.0.1: (or localhost). Nothing was sent.".into(),
            AwsError::SandboxUnreachable(_) => "Start the practice cloud again (Accounts → the practice account → Start), or start the sandbox with tests/sandbox/run.".into(),
            AwsError::NotOurSandbox(_) => "Another program is using the practice cloud's port, so easyTDV sent it nothing. Quit that program or restart easyTDV: the practice cloud will take a free port.".into(),
            AwsError::SandboxKeyUnknown(_) => format!("Start the practice cloud from easyTDV, or export the {} line that tests/sandbox/run printed.", sandbox::KEY_VAR),
        })
    }
}

/// How long a launcher Invoke may take: above the function's 120 s timeout.
pub const LAUNCH_INVOKE_TIMEOUT: Duration = Duration::from_secs(180);

/// Test seam: every context (whatever its credentials) sends its calls to
/// this address, e.g. a closed port so tests never reach AWS. Debug builds
/// only: compiled out of release builds (tests/package/run.sh checks).
#[cfg(debug_assertions)]
pub const TEST_ENDPOINT_VAR: &str = "EASYTDV_TEST_ENDPOINT_OVERRIDE";

/// Per-service settings from the environment (`AWS_ENDPOINT_URL_S3`, a
/// profile's `[services]` section) do not apply to an explicit account.
#[derive(Debug)]
struct NoServiceConfig;

impl aws_types::service_config::LoadServiceConfig for NoServiceConfig {
    fn load_config(&self, _key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        None
    }
}

/// SDK configuration for one region and one credential source.
#[derive(Clone, Debug)]
pub struct AwsContext {
    config: SdkConfig,
    region: String,
    endpoint: Option<String>,
    calls: CallCounter,
}

/// True for strings shaped like a region code (`eu-west-3`, `us-gov-west-1`).
pub fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

impl AwsContext {
    pub async fn new(source: &CredentialSource, region: &str) -> Result<Self, AwsError> {
        if !is_region_code(region) {
            return Err(AwsError::BadRegion(region.to_string()));
        }
        if crate::regions::region(region).is_none() {
            return Err(AwsError::UnknownRegion(region.to_string()));
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            // Fail fast when the network is gone instead of hanging.
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(3));
        let mut endpoint = None;
        match source {
            CredentialSource::Static {
                access_key_id,
                secret_access_key,
                session_token,
            } => {
                loader = loader.credentials_provider(Credentials::new(
                    access_key_id.clone(),
                    secret_access_key.expose().to_string(),
                    session_token.as_ref().map(|t| t.expose().to_string()),
                    None,
                    "easytdv-keychain",
                ));
            }
            CredentialSource::Profile { name } => {
                // The profile's own credentials: AWS_ACCESS_KEY_ID & co. in
                // the environment must not win over an explicit choice.
                loader = loader.profile_name(name).credentials_provider(
                    aws_config::profile::ProfileFileCredentialsProvider::builder()
                        .profile_name(name)
                        .build(),
                );
            }
            CredentialSource::DefaultChain => {}
            CredentialSource::Sandbox { endpoint: url } => {
                let url = url.trim_end_matches('/').to_string();
                sandbox::loopback_authority(&url)?;
                let key = sandbox::key_for(&url)
                    .ok_or_else(|| AwsError::SandboxKeyUnknown(url.clone()))?;
                // Nothing is sent to a sandbox that cannot prove it has the key.
                sandbox::verify(&url, &key).await?;
                loader = loader
                    .credentials_provider(Credentials::new(
                        key.expose().to_string(),
                        "sandbox",
                        None,
                        None,
                        "easytdv-sandbox",
                    ))
                    .endpoint_url(&url)
                    // The sandbox answers at once; no point retrying a dead port.
                    .retry_config(RetryConfig::standard().with_max_attempts(1))
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(2))
                            .operation_attempt_timeout(Duration::from_secs(60))
                            .build(),
                    );
                endpoint = Some(url);
            }
        }
        #[cfg(debug_assertions)]
        if endpoint.is_none() {
            if let Ok(url) = std::env::var(TEST_ENDPOINT_VAR) {
                loader = loader.endpoint_url(&url);
                endpoint = Some(url);
            }
        }
        let mut config = loader.load().await;
        if matches!(source, CredentialSource::Static { .. }) {
            // Keys from the keychain never go to an endpoint named by
            // AWS_ENDPOINT_URL* variables (a profile keeps its own
            // `endpoint_url`, which is part of choosing it).
            let mut builder = config.into_builder();
            if endpoint.is_none() {
                builder.set_endpoint_url(None);
            }
            builder.set_service_config(Some(NoServiceConfig));
            config = builder.build();
        }
        Ok(Self {
            config,
            region: region.to_string(),
            endpoint,
            calls: CallCounter::default(),
        })
    }

    /// A context over an SDK configuration made elsewhere (tests: the
    /// sandbox with an administrator's key that is not the app's).
    pub fn from_sdk_config(config: SdkConfig, endpoint: Option<String>) -> Self {
        let region = config
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_default();
        Self {
            config,
            region,
            endpoint,
            calls: CallCounter::default(),
        }
    }

    /// The same credentials and endpoint in another region.
    pub async fn new_like(other: &AwsContext, region: &str) -> Result<Self, AwsError> {
        if !is_region_code(region) {
            return Err(AwsError::BadRegion(region.to_string()));
        }
        let config = other
            .config
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        Ok(Self {
            config,
            region: region.to_string(),
            endpoint: other.endpoint.clone(),
            calls: other.calls.clone(),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint override, when not talking to real AWS.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// How many AWS API operations this context (and its clones) made.
    pub fn calls(&self) -> u64 {
        self.calls.get()
    }

    /// Seconds this context (and its clones) spent inside AWS calls.
    pub fn call_seconds(&self) -> f64 {
        self.calls.seconds()
    }

    /// Calls and seconds per "Service.Operation" (see [`CallCounter`]).
    pub fn calls_per_operation(&self) -> Vec<(String, u64, f64)> {
        self.calls.per_operation()
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            // An endpoint override (the sandbox) has no per-bucket DNS names.
            .force_path_style(self.endpoint.is_some())
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&self.config)
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(&self.config)
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&self.config)
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&self.config)
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&self.config)
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&self.config)
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    pub fn service_quotas(&self) -> aws_sdk_servicequotas::Client {
        aws_sdk_servicequotas::Client::from_conf(
            aws_sdk_servicequotas::config::Builder::from(&self.config)
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    /// The Price List API answers for every region from us-east-1.
    pub fn pricing(&self) -> aws_sdk_pricing::Client {
        aws_sdk_pricing::Client::from_conf(
            aws_sdk_pricing::config::Builder::from(&self.config)
                .region(Region::new("us-east-1"))
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    pub fn sagemaker(&self) -> aws_sdk_sagemaker::Client {
        aws_sdk_sagemaker::Client::from_conf(
            aws_sdk_sagemaker::config::Builder::from(&self.config)
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&self.config)
                .interceptor(self.calls.clone())
                .build(),
        )
    }

    /// The launcher's synchronous Invoke may take up to the function's own
    /// timeout (120 s, IAM-propagation retries included): the SDK waits
    /// longer than that, and never repeats a timed-out invoke by itself (a
    /// deliberate repeat is safe: the launch's client token and tag).
    pub fn lambda_for_launch(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&self.config)
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .operation_attempt_timeout(LAUNCH_INVOKE_TIMEOUT)
                        .build(),
                )
                .retry_config(RetryConfig::standard().with_max_attempts(1))
                .interceptor(self.calls.clone())
                .build(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes() {
        for ok in [
            "eu-west-3",
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "il-central-1",
        ] {
            assert!(is_region_code(ok), "{ok}");
        }
        for bad in [
            "",
            "eu",
            "EU-WEST-3",
            "eu-west",
            "eu-west-x",
            "eu_west_3",
            "eu--3",
            "paris",
        ] {
            assert!(!is_region_code(bad), "{bad}");
        }
    }
}
