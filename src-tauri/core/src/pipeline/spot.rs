//! EC2 spot with fallback (issue 22, item 4): the request's rule, and how a
//! run says what it got. The launcher (templates/lambda/launch.py) asks for
//! spot in each zone, then on demand; the price of a spot machine is its
//! zone's spot price.

use super::model::{RunResources, TrainRequest};
use super::InputError;

/// AWS took a spot machine back (its state reason says so).
pub fn taken_back(e: &super::PipelineError) -> bool {
    matches!(e, super::PipelineError::InstanceEnded { code, .. } if code.starts_with("Server.Spot"))
}

/// `spot` belongs to an EC2 run (a SageMaker job has its engine's).
pub fn check_request(request: &TrainRequest) -> Result<(), InputError> {
    if request.spot && request.engine.is_sagemaker() {
        return Err(InputError::SpotNotForTrainingJob);
    }
    Ok(())
}

/// ` (spot, $0.0142/h)`, ` (on demand: no spot machine, InsufficientInstanceCapacity)`, or nothing.
pub fn market_words(asked: bool, res: &RunResources) -> String {
    if !asked {
        return String::new();
    }
    match (res.market.as_deref(), &res.spot_refused) {
        (Some("spot"), _) => match res.usd_per_hour {
            Some(rate) => format!(" (spot, ${rate:.4}/h)"),
            None => " (spot)".into(),
        },
        (_, Some(code)) => format!(
            " (on demand: AWS had no spot machine, {})",
            refusal_words(code)
        ),
        _ => String::new(),
    }
}

fn refusal_words(code: &str) -> &str {
    match code {
        "InsufficientInstanceCapacity" | "UnfulfillableCapacity" => "none free",
        "MaxSpotInstanceCountExceeded" => "your account's spot quota is used up",
        "SpotMaxPriceTooLow" => "the spot price is above the maximum",
        "Unsupported" => "not offered as spot here",
        "AuthFailure.ServiceLinkedRoleCreationNotPermitted" => {
            "the account has no AWSServiceRoleForEC2Spot role yet (`aws iam create-service-linked-role --aws-service-name spot.amazonaws.com` once)"
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Engine;

    #[test]
    fn spot_is_an_ec2_runs_and_the_run_says_what_it_got() {
        let mut r = TrainRequest {
            spot: true,
            ..Default::default()
        };
        assert!(check_request(&r).is_ok());
        r.engine = Engine::SageMaker {
            instance_count: 1,
            spot: true,
        };
        assert_eq!(check_request(&r), Err(InputError::SpotNotForTrainingJob));
        let mut res = RunResources {
            market: Some("spot".into()),
            usd_per_hour: Some(0.0142),
            ..Default::default()
        };
        assert_eq!(market_words(true, &res), " (spot, $0.0142/h)");
        assert_eq!(market_words(false, &res), "");
        res.market = Some("on-demand".into());
        res.spot_refused = Some("MaxSpotInstanceCountExceeded".into());
        assert_eq!(
            market_words(true, &res),
            " (on demand: AWS had no spot machine, your account's spot quota is used up)"
        );
    }
}
