//! The default network (VPC) the training machine runs in, and its subnet
//! in each zone that offers the machine type.

use aws_sdk_ec2::types::{Filter, LocationType};
use serde::Serialize;

use crate::aws::AwsContext;
use crate::pipeline::error::{aws_error, PipelineError};

/// The region's default VPC, where the training machine runs.
pub async fn default_vpc(ctx: &AwsContext) -> Result<String, PipelineError> {
    let out = ctx
        .ec2()
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .map_err(|e| aws_error("find the default network (VPC)", e))?;
    out.vpcs()
        .first()
        .and_then(|v| v.vpc_id())
        .map(str::to_string)
        .ok_or_else(|| PipelineError::NoDefaultVpc(ctx.region().to_string()))
}

/// A default subnet in a zone that offers the machine type: where the
/// launcher may start it, tried in order.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LaunchSubnet {
    pub subnet_id: String,
    pub zone: String,
}

/// The zones of the region that offer `instance_type`, each with the
/// default VPC's subnet there. `UnknownInstanceType` when no zone offers it,
/// `NoSubnetForType` (naming the zones) when the default VPC has a subnet in
/// none of them.
pub async fn launch_subnets(
    ctx: &AwsContext,
    instance_type: &str,
    vpc_id: &str,
) -> Result<Vec<LaunchSubnet>, PipelineError> {
    let ec2 = ctx.ec2();
    let out = ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(
            Filter::builder()
                .name("instance-type")
                .values(instance_type)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("find the zones that offer the machine type", e))?;
    let mut zones: Vec<String> = out
        .instance_type_offerings()
        .iter()
        .filter_map(|o| o.location().map(str::to_string))
        .collect();
    zones.sort();
    zones.dedup();
    if zones.is_empty() {
        return Err(PipelineError::UnknownInstanceType {
            instance_type: instance_type.into(),
            region: ctx.region().into(),
        });
    }
    let out = ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(
            Filter::builder()
                .name("default-for-az")
                .values("true")
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("find the default network's subnets", e))?;
    let subnets = subnets_in(&zones, out.subnets());
    if subnets.is_empty() {
        return Err(PipelineError::NoSubnetForType {
            instance_type: instance_type.into(),
            region: ctx.region().into(),
            zones,
        });
    }
    Ok(subnets)
}

/// The default subnet of each zone, in the zones' order; zones without
/// one are left out.
fn subnets_in(zones: &[String], subnets: &[aws_sdk_ec2::types::Subnet]) -> Vec<LaunchSubnet> {
    zones
        .iter()
        .filter_map(|zone| {
            subnets
                .iter()
                .find(|s| s.availability_zone() == Some(zone.as_str()))
                .and_then(|s| s.subnet_id())
                .map(|id| LaunchSubnet {
                    subnet_id: id.to_string(),
                    zone: zone.clone(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_without_a_default_subnet_are_left_out_and_named_when_none_is_left() {
        use crate::explain::Explain;
        let subnet = |id: &str, zone: &str| {
            aws_sdk_ec2::types::Subnet::builder()
                .subnet_id(id)
                .availability_zone(zone)
                .build()
        };
        let zones = vec!["eu-north-1b".to_string(), "eu-north-1c".to_string()];
        let found = subnets_in(
            &zones,
            &[
                subnet("subnet-a", "eu-north-1a"),
                subnet("subnet-c", "eu-north-1c"),
            ],
        );
        assert_eq!(
            found,
            [LaunchSubnet {
                subnet_id: "subnet-c".into(),
                zone: "eu-north-1c".into()
            }]
        );
        assert!(subnets_in(&zones, &[subnet("subnet-a", "eu-north-1a")]).is_empty());
        let e = PipelineError::NoSubnetForType {
            instance_type: "g5.xlarge".into(),
            region: "eu-north-1".into(),
            zones,
        };
        assert_eq!(
            e.to_string(),
            "the machine type g5.xlarge is offered in eu-north-1 only in eu-north-1b, eu-north-1c, where the default network (VPC) has no subnet"
        );
        let hint = e.hint().unwrap();
        assert!(
            hint.contains(
                "aws ec2 create-default-subnet --availability-zone eu-north-1b --region eu-north-1"
            ),
            "{hint}"
        );
        assert!(e.is_bad_input());
    }
}
