//! Reading AWS Price List records (each `PriceList` entry of `GetProducts`
//! is a JSON document given as a string).

use serde_json::Value;

/// One priced product: what it is, and its on-demand USD price per unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    /// `instanceType` (EC2), `instanceName` (SageMaker), or `volumeApiName`.
    pub name: String,
    pub usd: f64,
    /// `Hrs`, `GB-Mo`, …
    pub unit: String,
}

/// The on-demand price of one record; `None` when it has none (or zero:
/// AWS lists some products at $0 that are not what we asked for).
pub fn on_demand(record: &str) -> Option<Priced> {
    let doc: Value = serde_json::from_str(record).ok()?;
    let attrs = &doc["product"]["attributes"];
    let name = ["instanceName", "instanceType", "volumeApiName"]
        .iter()
        .find_map(|k| attrs[*k].as_str())?
        .to_string();
    let mut best: Option<Priced> = None;
    for term in doc["terms"]["OnDemand"].as_object()?.values() {
        for dim in term["priceDimensions"].as_object()?.values() {
            let usd: f64 = dim["pricePerUnit"]["USD"].as_str()?.parse().ok()?;
            if usd <= 0.0 {
                continue;
            }
            let unit = dim["unit"].as_str().unwrap_or("").to_string();
            if best.as_ref().is_none_or(|b| usd < b.usd) {
                best = Some(Priced {
                    name: name.clone(),
                    usd,
                    unit,
                });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const T3: &str = r#"{"product":{"productFamily":"Compute Instance","attributes":{"instanceType":"t3.medium","regionCode":"eu-west-3","operatingSystem":"Linux"},"sku":"S"},"serviceCode":"AmazonEC2","terms":{"OnDemand":{"S.J":{"priceDimensions":{"S.J.6":{"unit":"Hrs","pricePerUnit":{"USD":"0.0472000000"}}},"sku":"S"}},"Reserved":{"S.R":{"priceDimensions":{"S.R.6":{"unit":"Hrs","pricePerUnit":{"USD":"0.0297000000"}}}}}}}"#;

    #[test]
    fn real_format_records() {
        assert_eq!(
            on_demand(T3),
            Some(Priced {
                name: "t3.medium".into(),
                usd: 0.0472,
                unit: "Hrs".into()
            })
        );
        let gp3 = r#"{"product":{"attributes":{"volumeApiName":"gp3"}},"terms":{"OnDemand":{"a":{"priceDimensions":{"b":{"unit":"GB-Mo","pricePerUnit":{"USD":"0.0928"}}}}}}}"#;
        assert_eq!(on_demand(gp3).unwrap().unit, "GB-Mo");
        let ml = r#"{"product":{"attributes":{"instanceName":"ml.g4dn.xlarge","instanceType":"ml.g4dn.xlarge-Training"}},"terms":{"OnDemand":{"a":{"priceDimensions":{"b":{"unit":"Hrs","pricePerUnit":{"USD":"0.8587"}}}}}}}"#;
        assert_eq!(on_demand(ml).unwrap().name, "ml.g4dn.xlarge");
    }

    #[test]
    fn missing_zero_and_several_prices() {
        assert_eq!(on_demand("not json"), None);
        let no_od = r#"{"product":{"attributes":{"instanceType":"x"}},"terms":{"Reserved":{}}}"#;
        assert_eq!(on_demand(no_od), None);
        let zero = r#"{"product":{"attributes":{"instanceType":"x"}},"terms":{"OnDemand":{"a":{"priceDimensions":{"b":{"unit":"Hrs","pricePerUnit":{"USD":"0.0000000000"}}}}}}}"#;
        assert_eq!(on_demand(zero), None);
        let two = r#"{"product":{"attributes":{"instanceType":"x"}},"terms":{"OnDemand":{"a":{"priceDimensions":{"b":{"unit":"Hrs","pricePerUnit":{"USD":"0.50"}},"c":{"unit":"Hrs","pricePerUnit":{"USD":"0.25"}}}}}}}"#;
        assert_eq!(on_demand(two).unwrap().usd, 0.25);
    }
}
