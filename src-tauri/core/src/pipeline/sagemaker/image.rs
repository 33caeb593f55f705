//! AWS's prebuilt PyTorch training container (Deep Learning Containers) for
//! a region: the account that publishes it there, and the image for a
//! machine type (CPU or GPU build).

/// The PyTorch version of the container (its Python is 3.11).
pub const PYTORCH: &str = "2.5.1";

/// The account serving `pytorch-training` (PyTorch [`PYTORCH`]) in each
/// region, as the SageMaker Python SDK's image config lists it
/// (`image_uri_config/pytorch.json`, training, `registries`). A test checks
/// it against `tests/sandbox/easytdv_sandbox/data/sagemaker/pytorch-training.json`,
/// which `python -m easytdv_sandbox.sagemaker_images --write` regenerates
/// from a pinned SDK release. A region missing here has no published image:
/// SageMaker is not offered there.
const PUBLISHERS: &[(&str, &str)] = &[
    ("af-south-1", "626614931356"),
    ("ap-east-1", "871362719292"),
    ("ap-east-2", "975050140332"),
    ("ap-northeast-1", "763104351884"),
    ("ap-northeast-2", "763104351884"),
    ("ap-northeast-3", "364406365360"),
    ("ap-south-1", "763104351884"),
    ("ap-south-2", "772153158452"),
    ("ap-southeast-1", "763104351884"),
    ("ap-southeast-2", "763104351884"),
    ("ap-southeast-3", "907027046896"),
    ("ap-southeast-4", "457447274322"),
    ("ap-southeast-5", "550225433462"),
    ("ap-southeast-6", "633930458069"),
    ("ap-southeast-7", "590183813437"),
    ("ca-central-1", "763104351884"),
    ("ca-west-1", "204538143572"),
    ("cn-north-1", "727897471807"),
    ("cn-northwest-1", "727897471807"),
    ("eu-central-1", "763104351884"),
    ("eu-central-2", "380420809688"),
    ("eu-north-1", "763104351884"),
    ("eu-south-1", "692866216735"),
    ("eu-south-2", "503227376785"),
    ("eu-west-1", "763104351884"),
    ("eu-west-2", "763104351884"),
    ("eu-west-3", "763104351884"),
    ("il-central-1", "780543022126"),
    ("me-central-1", "914824155844"),
    ("me-south-1", "217643126080"),
    ("mx-central-1", "637423239942"),
    ("sa-east-1", "763104351884"),
    ("us-east-1", "763104351884"),
    ("us-east-2", "763104351884"),
    ("us-gov-east-1", "446045086412"),
    ("us-gov-west-1", "442386744353"),
    ("us-west-1", "763104351884"),
    ("us-west-2", "763104351884"),
];

/// The account publishing the training images in `region`; `None`: AWS
/// publishes none there (no SageMaker runs in that region).
pub fn image_account(region: &str) -> Option<&'static str> {
    PUBLISHERS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, a)| *a)
}

/// Can a SageMaker run use AWS's PyTorch container in `region`?
pub fn offered_in(region: &str) -> bool {
    image_account(region).is_some()
}

/// Does the `ml.*` type have NVIDIA GPUs (the GPU build of the image)?
pub fn has_gpu(ml_type: &str) -> bool {
    let family = ml_type
        .trim_start_matches("ml.")
        .split('.')
        .next()
        .unwrap_or("");
    family.starts_with('g') || family.starts_with('p')
}

/// `<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training:<tag>`;
/// `None` where no image is published.
pub fn training_image(region: &str, ml_type: &str) -> Option<String> {
    let account = image_account(region)?;
    let tag = if has_gpu(ml_type) {
        format!("{PYTORCH}-gpu-py311-cu124-ubuntu22.04-sagemaker")
    } else {
        format!("{PYTORCH}-cpu-py311-ubuntu22.04-sagemaker")
    };
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Some(format!(
        "{account}.dkr.ecr.{region}.{domain}/pytorch-training:{tag}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The regenerated vendor data (see [`PUBLISHERS`]).
    const DATA: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/sandbox/easytdv_sandbox/data/sagemaker/pytorch-training.json"
    ));

    #[test]
    fn the_table_is_the_sdks_data_for_our_pytorch_version() {
        let data: serde_json::Value = serde_json::from_str(DATA).expect("valid JSON");
        assert_eq!(
            data["version"], PYTORCH,
            "regenerate the data for {PYTORCH}"
        );
        assert_eq!(data["repository"], "pytorch-training");
        let from_data: Vec<(String, String)> = data["registries"]
            .as_object()
            .expect("registries")
            .iter()
            .map(|(r, a)| (r.clone(), a.as_str().unwrap_or_default().to_string()))
            .collect();
        let table: Vec<(String, String)> = PUBLISHERS
            .iter()
            .map(|(r, a)| (r.to_string(), a.to_string()))
            .collect();
        assert_eq!(table, from_data);
    }

    #[test]
    fn every_region_offered_for_sagemaker_has_its_publisher() {
        for region in crate::regions::regions() {
            assert_eq!(
                region.sage_maker,
                offered_in(&region.code),
                "{}",
                region.code
            );
        }
        // The six regions with their own registry (issue 20).
        for (region, account) in [
            ("ap-east-2", "975050140332"),
            ("ap-northeast-3", "364406365360"),
            ("ap-southeast-5", "550225433462"),
            ("ap-southeast-6", "633930458069"),
            ("ap-southeast-7", "590183813437"),
            ("mx-central-1", "637423239942"),
        ] {
            assert_eq!(image_account(region), Some(account));
            assert!(training_image(region, "ml.m5.large")
                .is_some_and(|i| i.starts_with(&format!("{account}.dkr.ecr.{region}."))));
        }
        assert_eq!(image_account("xx-nowhere-1"), None);
        assert!(!offered_in("xx-nowhere-1"));
        assert_eq!(training_image("xx-nowhere-1", "ml.m5.large"), None);
    }

    #[test]
    fn the_image_follows_the_region_and_the_machine() {
        assert_eq!(
            training_image("eu-west-3", "ml.m5.large").as_deref(),
            Some("763104351884.dkr.ecr.eu-west-3.amazonaws.com/pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker")
        );
        assert!(training_image("us-east-1", "ml.g5.xlarge")
            .is_some_and(|i| i.ends_with(":2.5.1-gpu-py311-cu124-ubuntu22.04-sagemaker")));
        assert!(training_image("ap-east-1", "ml.p4d.24xlarge")
            .is_some_and(|i| i.starts_with("871362719292.dkr.ecr.ap-east-1.")));
        assert!(training_image("cn-north-1", "ml.c5.xlarge")
            .is_some_and(|i| i.contains(".amazonaws.com.cn/")));
        assert!(!has_gpu("ml.c5.xlarge") && !has_gpu("ml.trn1.2xlarge"));
    }
}
