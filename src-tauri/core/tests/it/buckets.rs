//! The run's bucket: one the app creates refuses requests without TLS; an
//! existing one that is or may become public is refused before anything is
//! uploaded.

use crate::common::*;
use easytdv_core::explain::Explain;
use easytdv_core::pipeline::PipelineError;

async fn admin_s3() -> aws_sdk_s3::Client {
    let conf = admin_config(REGION).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    )
}

#[tokio::test]
async fn a_bucket_the_app_creates_is_private_encrypted_and_refuses_requests_without_tls() {
    let h = Harness::new().await;
    let b = bucket("tls");
    let mut train = h.train(request("ok", &b));
    train.prepare_env().await.expect("prepared");
    let s3 = admin_s3().await;
    let policy = s3
        .get_bucket_policy()
        .bucket(&b)
        .send()
        .await
        .expect("the bucket has a policy");
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let deny = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Effect"] == "Deny")
        .expect("a Deny statement");
    assert_eq!(deny["Principal"], "*");
    assert_eq!(deny["Action"], "s3:*");
    assert_eq!(
        deny["Condition"],
        serde_json::json!({"Bool": {"aws:SecureTransport": "false"}})
    );
    assert_eq!(
        deny["Resource"],
        serde_json::json!([format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")])
    );
    let block = s3
        .get_public_access_block()
        .bucket(&b)
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    assert_eq!(
        (
            block.block_public_acls,
            block.ignore_public_acls,
            block.block_public_policy,
            block.restrict_public_buckets
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    // The policy leaves the app's own (TLS) requests alone: the inputs are there.
    assert!(!list(&h.ctx, &b, "easytdv/runs/").await.is_empty());
}

#[tokio::test]
async fn an_existing_bucket_that_is_or_may_become_public_is_refused_before_any_upload() {
    let h = Harness::new().await;
    let b = bucket("public");
    let s3 = admin_s3().await;
    create_bucket(&h.ctx, &b).await;
    // A new bucket blocks public access (AWS's default since April 2023): usable.
    let mut train = h.train(request("ok", &b));
    train.prepare_env().await.expect("a private bucket is used");

    let other = bucket("open");
    create_bucket(&h.ctx, &other).await;
    s3.delete_public_access_block()
        .bucket(&other)
        .send()
        .await
        .unwrap();
    let err = h
        .train(request("ok", &other))
        .prepare_env()
        .await
        .expect_err("may become public");
    assert!(
        matches!(
            err,
            PipelineError::BucketPublic {
                public_now: false,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "bucket_public");
    assert!(err.hint().unwrap().contains("Block all public access"));

    let public = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": format!("arn:aws:s3:::{other}/*")}]
    });
    s3.put_bucket_policy()
        .bucket(&other)
        .policy(public.to_string())
        .send()
        .await
        .unwrap();
    let err = h
        .train(request("ok", &other))
        .prepare_env()
        .await
        .expect_err("public");
    assert!(
        matches!(
            err,
            PipelineError::BucketPublic {
                public_now: true,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("is public"), "{err}");
    assert!(
        list(&h.ctx, &other, "easytdv/").await.is_empty(),
        "nothing uploaded"
    );
}

/// Copies inside the run's bucket (S3 copies; nothing passes through this
/// computer): whole, in parts (UploadPartCopy, here with 5 MiB parts over
/// 5 MiB instead of S3's 5 GiB), a key that must be URL-encoded in the copy's
/// source; every copy has the source's bytes; a missing source says so and
/// leaves no copy.
#[tokio::test]
async fn copies_inside_the_bucket_have_the_sources_bytes_whole_or_in_parts() {
    let ctx = ctx().await;
    let name = bucket("copy");
    create_bucket(&ctx, &name).await;
    let owner = easytdv_core::pipeline::storage::account_id(&ctx)
        .await
        .unwrap();
    let b = easytdv_core::pipeline::storage::RunBucket::new(&ctx, &name, owner);
    let body: Vec<u8> = (0..12 * 1024 * 1024 + 123)
        .map(|i: u32| (i.wrapping_mul(7) % 251) as u8)
        .collect();
    b.put("easytdv/x/big.bin", body.clone()).await.unwrap();
    let mib5 = 5 * 1024 * 1024;
    b.copy_in_parts_over("easytdv/x/big.bin", "easytdv/y/big.bin", mib5, mib5)
        .await
        .unwrap();
    assert!(
        get_bytes(&ctx, &name, "easytdv/y/big.bin").await == body,
        "in parts"
    );
    b.copy("easytdv/x/big.bin", "easytdv/z/big.bin")
        .await
        .unwrap();
    assert!(
        get_bytes(&ctx, &name, "easytdv/z/big.bin").await == body,
        "whole"
    );

    let odd = "easytdv/x/données x+y:1.csv";
    b.put(odd, b"a,b\n1,2\n".to_vec()).await.unwrap();
    b.copy(odd, "easytdv/y/données x+y:1.csv").await.unwrap();
    assert_eq!(
        get_bytes(&ctx, &name, "easytdv/y/données x+y:1.csv").await,
        b"a,b\n1,2\n"
    );

    let e = b
        .copy("easytdv/x/none", "easytdv/y/none")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("read a file's size in S3"), "{e}");
    assert!(list(&ctx, &name, "easytdv/y/none").await.is_empty());
}
