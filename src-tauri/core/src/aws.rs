//! `AwsContext`: one place that turns "how to reach AWS" into SDK clients.
//!
//! The pipeline never knows whether it talks to real AWS or to the local
//! sandbox: the only difference is the endpoint override and the credentials
//! chosen here.

use std::time::Duration;

use aws_config::{retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use crate::secret::Sensitive;

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
    /// The local AWS sandbox: an endpoint on this machine, dummy credentials.
    Sandbox { endpoint: String },
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    #[error("\"{0}\" is not an AWS region code (expected something like eu-west-3)")]
    BadRegion(String),
    #[error("the sandbox endpoint \"{0}\" is not an http:// URL")]
    BadEndpoint(String),
}

/// SDK configuration for one region and one credential source.
#[derive(Clone, Debug)]
pub struct AwsContext {
    config: SdkConfig,
    region: String,
    endpoint: Option<String>,
}

/// True for strings shaped like a region code (`eu-west-3`, `us-gov-west-1`).
pub fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

impl AwsContext {
    pub async fn new(source: &CredentialSource, region: &str) -> Result<Self, AwsError> {
        if !is_region_code(region) {
            return Err(AwsError::BadRegion(region.to_string()));
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
            CredentialSource::Static { access_key_id, secret_access_key, session_token } => {
                loader = loader.credentials_provider(Credentials::new(
                    access_key_id.clone(),
                    secret_access_key.expose().to_string(),
                    session_token.as_ref().map(|t| t.expose().to_string()),
                    None,
                    "easytdv-keychain",
                ));
            }
            CredentialSource::Profile { name } => {
                loader = loader.profile_name(name);
            }
            CredentialSource::Sandbox { endpoint: url } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(AwsError::BadEndpoint(url.clone()));
                }
                let url = url.trim_end_matches('/').to_string();
                loader = loader
                    .credentials_provider(Credentials::new("sandbox", "sandbox", None, None, "easytdv-sandbox"))
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
        Ok(Self { config: loader.load().await, region: region.to_string(), endpoint })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint override, when not talking to real AWS.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            // An endpoint override (the sandbox) has no per-bucket DNS names.
            .force_path_style(self.endpoint.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.config)
    }

    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.config)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes() {
        for ok in ["eu-west-3", "us-east-1", "ap-southeast-2", "us-gov-west-1", "il-central-1"] {
            assert!(is_region_code(ok), "{ok}");
        }
        for bad in ["", "eu", "EU-WEST-3", "eu-west", "eu-west-x", "eu_west_3", "eu--3", "paris"] {
            assert!(!is_region_code(bad), "{bad}");
        }
    }
}
