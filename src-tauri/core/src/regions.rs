//! The AWS commercial regions, with the names the AWS console shows.
//!
//! Opt-in regions (launched after March 2019) are disabled on an account
//! until someone enables them; requests there fail with an "invalid token"
//! error that really means "region not enabled".

use serde::Serialize;

/// One region, as shown in a region picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RegionInfo {
    /// The region code, e.g. `eu-west-3`.
    pub code: String,
    /// The console name, e.g. `Europe (Paris)`.
    pub name: String,
    /// True when the region must be enabled on the account before use.
    pub opt_in: bool,
    /// True when SageMaker runs are offered here (AWS publishes its PyTorch
    /// training image in the region).
    pub sage_maker: bool,
}

impl RegionInfo {
    /// A region by its code and name (what SageMaker offers there follows
    /// from the code).
    pub fn new(code: &str, name: &str, opt_in: bool) -> Self {
        Self {
            code: code.to_string(),
            name: name.to_string(),
            opt_in,
            sage_maker: crate::pipeline::sagemaker::offered_in(code),
        }
    }
}

/// (code, name, opt-in) for every current commercial region.
const REGIONS: &[(&str, &str, bool)] = &[
    ("us-east-1", "US East (N. Virginia)", false),
    ("us-east-2", "US East (Ohio)", false),
    ("us-west-1", "US West (N. California)", false),
    ("us-west-2", "US West (Oregon)", false),
    ("af-south-1", "Africa (Cape Town)", true),
    ("ap-east-1", "Asia Pacific (Hong Kong)", true),
    ("ap-east-2", "Asia Pacific (Taipei)", true),
    ("ap-south-1", "Asia Pacific (Mumbai)", false),
    ("ap-south-2", "Asia Pacific (Hyderabad)", true),
    ("ap-southeast-1", "Asia Pacific (Singapore)", false),
    ("ap-southeast-2", "Asia Pacific (Sydney)", false),
    ("ap-southeast-3", "Asia Pacific (Jakarta)", true),
    ("ap-southeast-4", "Asia Pacific (Melbourne)", true),
    ("ap-southeast-5", "Asia Pacific (Malaysia)", true),
    ("ap-southeast-6", "Asia Pacific (New Zealand)", true),
    ("ap-southeast-7", "Asia Pacific (Thailand)", true),
    ("ap-northeast-1", "Asia Pacific (Tokyo)", false),
    ("ap-northeast-2", "Asia Pacific (Seoul)", false),
    ("ap-northeast-3", "Asia Pacific (Osaka)", false),
    ("ca-central-1", "Canada (Central)", false),
    ("ca-west-1", "Canada West (Calgary)", true),
    ("eu-central-1", "Europe (Frankfurt)", false),
    ("eu-central-2", "Europe (Zurich)", true),
    ("eu-west-1", "Europe (Ireland)", false),
    ("eu-west-2", "Europe (London)", false),
    ("eu-west-3", "Europe (Paris)", false),
    ("eu-south-1", "Europe (Milan)", true),
    ("eu-south-2", "Europe (Spain)", true),
    ("eu-north-1", "Europe (Stockholm)", false),
    ("il-central-1", "Israel (Tel Aviv)", true),
    ("me-south-1", "Middle East (Bahrain)", true),
    ("me-central-1", "Middle East (UAE)", true),
    ("mx-central-1", "Mexico (Central)", true),
    ("sa-east-1", "South America (São Paulo)", false),
];

/// The region used when nothing else says which one: the cheapest and the
/// one where every instance type exists.
pub const DEFAULT_REGION: &str = "us-east-1";

fn info(entry: &(&str, &str, bool)) -> RegionInfo {
    RegionInfo::new(entry.0, entry.1, entry.2)
}

/// All current commercial regions, US first, then by area.
pub fn regions() -> Vec<RegionInfo> {
    REGIONS.iter().map(info).collect()
}

/// The region with this code, if it is a known commercial region.
pub fn region(code: &str) -> Option<RegionInfo> {
    REGIONS.iter().find(|r| r.0 == code).map(info)
}

/// The console name of a region code (`eu-west-3` → `Europe (Paris)`).
pub fn region_name(code: &str) -> Option<&'static str> {
    REGIONS.iter().find(|r| r.0 == code).map(|r| r.1)
}

/// True for a known opt-in region (disabled until enabled on the account).
pub fn is_opt_in(code: &str) -> bool {
    REGIONS.iter().any(|r| r.0 == code && r.2)
}

/// `Europe (Paris)` for a known code, the code itself otherwise.
pub fn display_name(code: &str) -> String {
    match region_name(code) {
        Some(name) => format!("{name}, {code}"),
        None => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_code() {
        assert_eq!(region_name("eu-west-3"), Some("Europe (Paris)"));
        assert_eq!(region("us-east-1").map(|r| r.opt_in), Some(false));
        assert!(region("xx-nowhere-1").is_none());
        assert_eq!(display_name("eu-west-3"), "Europe (Paris), eu-west-3");
        assert_eq!(display_name("xx-nowhere-1"), "xx-nowhere-1");
    }

    #[test]
    fn codes_are_unique_and_well_formed() {
        let all = regions();
        assert!(all.len() >= 34);
        for r in &all {
            assert!(crate::aws::is_region_code(&r.code), "{}", r.code);
            assert_eq!(
                all.iter().filter(|o| o.code == r.code).count(),
                1,
                "{}",
                r.code
            );
        }
    }

    #[test]
    fn opt_in_regions() {
        assert!(is_opt_in("af-south-1"));
        assert!(is_opt_in("me-central-1"));
        assert!(!is_opt_in("eu-west-3"));
        assert!(!is_opt_in("unknown-region-1"));
    }

    #[test]
    fn serializes_camel_case() {
        let json = serde_json::to_value(region("eu-west-3")).unwrap_or_default();
        assert_eq!(json["code"], "eu-west-3");
        assert_eq!(json["optIn"], false);
        assert_eq!(json["sageMaker"], true);
    }
}
