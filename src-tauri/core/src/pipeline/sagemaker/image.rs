//! AWS's prebuilt PyTorch training container (Deep Learning Containers) for
//! a region: the account that publishes it there, and the image for a
//! machine type (CPU or GPU build).

/// The PyTorch version of the container (its Python is 3.11).
pub const PYTORCH: &str = "2.5.1";

/// Regions whose images are not published by the usual account
/// (sagemaker-python-sdk's `image_uri_config/pytorch.json`).
const OTHER_ACCOUNTS: &[(&str, &str)] = &[
    ("af-south-1", "626614931356"),
    ("ap-east-1", "871362719292"),
    ("ap-south-2", "772153158452"),
    ("ap-southeast-3", "907027046896"),
    ("ap-southeast-4", "457447274322"),
    ("ca-west-1", "204538143572"),
    ("cn-north-1", "727897471807"),
    ("cn-northwest-1", "727897471807"),
    ("eu-central-2", "380420809688"),
    ("eu-south-1", "692866216735"),
    ("eu-south-2", "503227376785"),
    ("il-central-1", "780543022126"),
    ("me-central-1", "914824155844"),
    ("me-south-1", "217643126080"),
    ("us-gov-east-1", "446045086412"),
    ("us-gov-west-1", "442386744353"),
];
const USUAL_ACCOUNT: &str = "763104351884";

/// The account publishing the training images in `region`.
pub fn image_account(region: &str) -> &'static str {
    OTHER_ACCOUNTS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, a)| *a)
        .unwrap_or(USUAL_ACCOUNT)
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

/// `<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training:<tag>`.
pub fn training_image(region: &str, ml_type: &str) -> String {
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
    format!(
        "{}.dkr.ecr.{region}.{domain}/pytorch-training:{tag}",
        image_account(region)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_follows_the_region_and_the_machine() {
        assert_eq!(
            training_image("eu-west-3", "ml.m5.large"),
            "763104351884.dkr.ecr.eu-west-3.amazonaws.com/pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker"
        );
        assert!(training_image("us-east-1", "ml.g5.xlarge")
            .ends_with(":2.5.1-gpu-py311-cu124-ubuntu22.04-sagemaker"));
        assert!(training_image("ap-east-1", "ml.p4d.24xlarge")
            .starts_with("871362719292.dkr.ecr.ap-east-1."));
        assert!(training_image("cn-north-1", "ml.c5.xlarge").contains(".amazonaws.com.cn/"));
        assert!(!has_gpu("ml.c5.xlarge") && !has_gpu("ml.trn1.2xlarge"));
    }
}
