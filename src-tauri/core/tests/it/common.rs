//! Shared set-up for tests that drive the core against the local sandbox.

use std::path::PathBuf;
use std::sync::Arc;

use easytdv_core::aws::{AwsContext, CredentialSource};
use easytdv_core::pipeline::{EventLog, MemoryState, PipelineError, Train, TrainRequest};

pub const REGION: &str = "eu-west-3";

/// The sandbox endpoint; tests fail clearly when it is not running.
pub fn endpoint() -> String {
    std::env::var("EASYTDV_SANDBOX_ENDPOINT").expect(
        "EASYTDV_SANDBOX_ENDPOINT is not set: start the sandbox with \
         `tests/sandbox/run --background --pidfile /tmp/sb.pid --port 0` and export the line it prints",
    )
}

/// The sandbox's access key (`EASYTDV_SANDBOX_ACCESS_KEY`, printed by `tests/sandbox/run`).
pub fn sandbox_key() -> String {
    std::env::var(easytdv_core::aws::sandbox::KEY_VAR).expect(
        "EASYTDV_SANDBOX_ACCESS_KEY is not set: export the lines `tests/sandbox/run --background` prints",
    )
}

pub async fn ctx() -> AwsContext {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    AwsContext::new(
        &CredentialSource::Sandbox {
            endpoint: endpoint(),
        },
        REGION,
    )
    .await
    .expect("context")
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// A bucket name of our own per test, so tests running in parallel never meet.
pub fn bucket(tag: &str) -> String {
    format!(
        "easytdv-test-{tag}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

pub fn request(case: &str, bucket: &str) -> TrainRequest {
    TrainRequest {
        script_path: fixture(&format!("{case}/train.py")),
        requirements_path: fixture(&format!("{case}/requirements.txt")),
        instance_type: "t3.medium".into(),
        disk_gb: 30,
        region: REGION.into(),
        bucket: bucket.into(),
        ami: None,
        max_runtime_hours: 2,
        budget_usd: None,
        engine: Default::default(),
        ..Default::default()
    }
}

pub struct Harness {
    pub ctx: AwsContext,
    pub events: EventLog,
    pub state: MemoryState,
}

impl Harness {
    pub async fn new() -> Self {
        Self {
            ctx: ctx().await,
            events: EventLog::default(),
            state: MemoryState::default(),
        }
    }

    pub fn train(&self, request: TrainRequest) -> Train {
        Train::new(
            self.ctx.clone(),
            request,
            Arc::new(self.events.clone()),
            Arc::new(self.state.clone()),
        )
        .expect("valid request")
    }

    /// A run as the app opens it: refused when the request is bad input.
    pub fn try_open(&self, request: TrainRequest) -> Result<Train, PipelineError> {
        Train::new(
            self.ctx.clone(),
            request,
            Arc::new(self.events.clone()),
            Arc::new(self.state.clone()),
        )
    }
}

/// Everything the sandbox still has for a run: live instances, the stack, input keys.
pub async fn leftovers(
    ctx: &AwsContext,
    run_id: &str,
    bucket: &str,
) -> (Vec<String>, Option<String>, Vec<String>) {
    let ec2 = ctx.ec2();
    let out = ec2
        .describe_instances()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:easytdv:run-id")
                .values(run_id)
                .build(),
        )
        .send()
        .await
        .expect("describe instances");
    let live: Vec<String> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| {
            i.state()
                .and_then(|s| s.name())
                .map(|n| n.as_str() != "terminated")
                .unwrap_or(true)
        })
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    let stack = easytdv_core::pipeline::stack_status(ctx, &format!("easytdv-{run_id}"))
        .await
        .expect("stack status");
    let keys = list(ctx, bucket, &format!("easytdv/runs/{run_id}/")).await;
    let inputs = keys
        .into_iter()
        .filter(|k| !k.contains("/outputs/"))
        .collect();
    (live, stack, inputs)
}

pub async fn list(ctx: &AwsContext, bucket: &str, prefix: &str) -> Vec<String> {
    match ctx
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
    {
        Ok(out) => out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    }
}

pub async fn get_bytes(ctx: &AwsContext, bucket: &str, key: &str) -> Vec<u8> {
    let out = ctx
        .s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get object");
    out.body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec()
}

pub async fn get_text(ctx: &AwsContext, bucket: &str, key: &str) -> String {
    String::from_utf8(get_bytes(ctx, bucket, key).await).expect("utf-8")
}

/// Another account's bucket in REGION whose policy lets this account do
/// anything with it (the takeover case); returns that account's S3 client.
pub async fn other_accounts_open_bucket(name: &str) -> aws_sdk_s3::Client {
    let theirs = other_account_s3().await;
    theirs
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .expect("their bucket");
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "s3:*", "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")]}]
    });
    theirs
        .put_bucket_policy()
        .bucket(name)
        .policy(policy.to_string())
        .send()
        .await
        .expect("policy");
    theirs
}

/// The training's log lines (what train.py printed).
pub fn train_lines(h: &Harness) -> Vec<String> {
    h.events
        .lines()
        .into_iter()
        .filter(|(name, _)| *name == easytdv_core::logs::LogName::Train)
        .map(|(_, l)| l.text)
        .collect()
}

/// Creates a bucket in the context's own region (path-style, as the sandbox needs).
pub async fn create_bucket(ctx: &AwsContext, name: &str) {
    ctx.s3()
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    ctx.region(),
                ))
                .build(),
        )
        .send()
        .await
        .expect("create bucket");
}

/// `POST /easytdv-api/<path>` on the sandbox (its test hooks), JSON body.
pub fn hook(path: &str, body: serde_json::Value) {
    hook_json(path, body);
}

/// A test hook's JSON answer.
pub fn hook_json(path: &str, body: serde_json::Value) -> serde_json::Value {
    use std::io::{Read, Write};
    let url = endpoint();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the sandbox");
    let body = body.to_string();
    write!(
        stream,
        "POST /easytdv-api/{path} HTTP/1.1\r\nHost: {host}\r\n{}: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        easytdv_core::aws::sandbox::KEY_HEADER,
        sandbox_key(),
        body.len()
    )
    .expect("send hook");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("hook answer");
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "{answer}"
    );
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// The sandbox as "another AWS account" (its account 111111111111) sees it.
pub async fn other_account_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(
            easytdv_core::aws::sandbox::derived_key(&sandbox_key(), "other-account"),
            "x",
            None,
            None,
            "test",
        ))
        .load()
        .await
}

/// An S3 client of "another AWS account" (the sandbox's account 111111111111).
pub async fn other_account_s3() -> aws_sdk_s3::Client {
    let conf = other_account_config(REGION).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

/// The sandbox with the test's own administrator key (not the app's): the
/// sandbox records who made each call, and only the app's calls are checked
/// against the policy a user of easyTDV gets.
pub async fn admin_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(
            easytdv_core::aws::sandbox::derived_key(&sandbox_key(), "test-admin"),
            "test-admin",
            None,
            None,
            "test",
        ))
        .load()
        .await
}
