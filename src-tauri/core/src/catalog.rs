//! What AWS offers an account in a region (machine types), asked once per
//! account and region in a process: a few dozen AWS calls each time; with
//! their on-demand prices (read at most daily) and the few types we
//! recommend first.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::aws::AwsContext;
use crate::pipeline::machine::{self, InstanceTypeInfo};
use crate::pipeline::PipelineError;
use crate::prices::{Prices, Service};

/// The types shown first, one per need: the first of each list the region
/// offers is recommended, with what it is good for.
const RECOMMENDED: &[(&[&str], &str)] = &[
    (
        &[
            "t3.medium",
            "t3a.medium",
            "m7i.large",
            "m6i.large",
            "m5.large",
        ],
        "Good for a first try and small scikit-learn or pandas jobs",
    ),
    (
        &[
            "c7i.4xlarge",
            "c6i.4xlarge",
            "c5.4xlarge",
            "m7i.4xlarge",
            "m5.4xlarge",
        ],
        "Good for heavier CPU work: gradient boosting, big data frames, many cores",
    ),
    (
        &["g5.xlarge", "g6.xlarge", "g4dn.xlarge"],
        "Good for deep learning with PyTorch or TensorFlow: one NVIDIA GPU",
    ),
    (
        &["g5.12xlarge", "g6.12xlarge", "g4dn.12xlarge"],
        "Good for bigger models: four NVIDIA GPUs on one machine",
    ),
];

/// SageMaker training types, one per need, recommended like [`RECOMMENDED`].
const RECOMMENDED_TRAINING: &[(&[&str], &str)] = &[
    (
        &["ml.m5.xlarge", "ml.m6i.xlarge", "ml.c5.xlarge"],
        "Good for a first managed run and CPU work",
    ),
    (
        &["ml.g5.xlarge", "ml.g4dn.xlarge", "ml.g6.xlarge"],
        "Good for deep learning: one NVIDIA GPU per machine",
    ),
    (
        &["ml.g5.12xlarge", "ml.g4dn.12xlarge", "ml.g6.12xlarge"],
        "Good for bigger models: four NVIDIA GPUs per machine",
    ),
    (
        &["ml.p4d.24xlarge", "ml.p5.48xlarge"],
        "For the largest models: eight NVIDIA A100/H100 GPUs per machine",
    ),
];

#[derive(Default)]
pub struct Catalog {
    types: Mutex<HashMap<(String, String), Vec<InstanceTypeInfo>>>,
}

impl Catalog {
    /// Every type EC2 offers `account_id` in the context's region, asked
    /// once per process.
    async fn offered(
        &self,
        account_id: &str,
        ctx: &AwsContext,
    ) -> Result<Vec<InstanceTypeInfo>, PipelineError> {
        let key = (account_id.to_string(), ctx.region().to_string());
        let cached = self.lock().get(&key).cloned();
        Ok(match cached {
            Some(found) => found,
            None => {
                let mut types = machine::list_instance_types(ctx).await?;
                recommend(&mut types);
                self.lock().insert(key, types.clone());
                types
            }
        })
    }

    /// The machine types offered for an EC2 run to `account_id` in the
    /// context's region (not the NVIDIA ones the automatic image does not
    /// support), with their prices when `prices` can tell them.
    pub async fn instance_types(
        &self,
        account_id: &str,
        ctx: &AwsContext,
        prices: Option<&Prices>,
    ) -> Result<Vec<InstanceTypeInfo>, PipelineError> {
        let mut types = for_ec2(self.offered(account_id, ctx).await?);
        if let Some(prices) = prices {
            let table = prices.table(ctx, Service::Ec2).await;
            for t in &mut types {
                t.usd_per_hour = table
                    .get(&t.name)
                    .filter(|p| p.unit.eq_ignore_ascii_case("hrs"))
                    .map(|p| p.usd);
            }
        }
        Ok(types)
    }

    /// The SageMaker training types (`ml.*`) of the region: the EC2 types
    /// the account is offered whose `ml.` twin SageMaker prices for
    /// training, with that price. When the price list cannot be read, the
    /// twins of the recommended types only (SageMaker refuses an unknown
    /// one when the job is created, with its message).
    pub async fn training_types(
        &self,
        account_id: &str,
        ctx: &AwsContext,
        prices: &Prices,
    ) -> Result<Vec<InstanceTypeInfo>, PipelineError> {
        // SageMaker runs its own containers: the EC2 image's limits do not apply.
        let ec2 = self.offered(account_id, ctx).await?;
        let table = prices.table(ctx, Service::SageMaker).await;
        let hourly = |name: &str| {
            table
                .get(name)
                .filter(|p| p.unit.eq_ignore_ascii_case("hrs"))
                .map(|p| p.usd)
        };
        let known: Vec<&str> = RECOMMENDED_TRAINING
            .iter()
            .flat_map(|(names, _)| names.iter().copied())
            .collect();
        let mut types: Vec<InstanceTypeInfo> = ec2
            .into_iter()
            .filter_map(|mut t| {
                let name = format!("ml.{}", t.name);
                let usd = hourly(&name);
                if usd.is_none() && !(table.is_empty() && known.contains(&name.as_str())) {
                    return None;
                }
                t.name = name;
                t.usd_per_hour = usd;
                t.recommended = None;
                Some(t)
            })
            .collect();
        mark(&mut types, RECOMMENDED_TRAINING);
        Ok(types)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Vec<InstanceTypeInfo>>> {
        self.types.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The types offered for an EC2 run.
fn for_ec2(types: Vec<InstanceTypeInfo>) -> Vec<InstanceTypeInfo> {
    types.into_iter().filter(machine::offered_for_ec2).collect()
}

/// Marks the first offered type of each need in [`RECOMMENDED`].
fn recommend(types: &mut [InstanceTypeInfo]) {
    mark(types, RECOMMENDED);
}

fn mark(types: &mut [InstanceTypeInfo], needs: &[(&[&str], &str)]) {
    for (candidates, why) in needs {
        let found = candidates
            .iter()
            .find_map(|c| types.iter().position(|t| t.name == *c));
        if let Some(i) = found {
            types[i].recommended = Some((*why).to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::machine::{Accelerator, TypeCategory};

    fn t(name: &str) -> InstanceTypeInfo {
        InstanceTypeInfo {
            name: name.into(),
            vcpus: 2,
            memory_mib: 4096,
            gpu_count: 0,
            gpu_model: None,
            arm: false,
            category: TypeCategory::General,
            accelerator: Accelerator::None,
            warning: None,
            previous_generation: false,
            usd_per_hour: None,
            recommended: None,
        }
    }

    fn gpu(name: &str) -> InstanceTypeInfo {
        InstanceTypeInfo {
            gpu_count: 1,
            category: TypeCategory::Gpu,
            accelerator: Accelerator::Nvidia,
            ..t(name)
        }
    }

    #[test]
    fn old_nvidia_families_are_not_offered_for_ec2() {
        let offered = for_ec2(vec![
            t("t3.medium"),
            gpu("p2.xlarge"),
            gpu("p3.2xlarge"),
            gpu("g3.4xlarge"),
            gpu("g4dn.xlarge"),
            gpu("p5.48xlarge"),
        ]);
        let names: Vec<&str> = offered.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["t3.medium", "g4dn.xlarge", "p5.48xlarge"]);
    }

    #[test]
    fn first_offered_candidate_of_each_need_is_recommended() {
        let mut types = vec![
            t("m5.large"),
            t("t3a.medium"),
            t("g4dn.xlarge"),
            t("m1.small"),
        ];
        recommend(&mut types);
        let picked: Vec<&str> = types
            .iter()
            .filter(|t| t.recommended.is_some())
            .map(|t| t.name.as_str())
            .collect();
        // t3a.medium comes before m5.large in the list of the small need;
        // no big CPU type and no multi-GPU type are offered here.
        assert_eq!(picked, ["t3a.medium", "g4dn.xlarge"]);
        assert!(types[2].recommended.as_deref().unwrap().contains("GPU"));
    }
}
