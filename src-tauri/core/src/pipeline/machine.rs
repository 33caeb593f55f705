//! What AWS tells about machines: offered instance types, the current image
//! for a region (public SSM parameters), an image's root disk, the default VPC.

use aws_sdk_ec2::types::{InstanceTypeInfo as Ec2TypeInfo, LocationType};
use serde::Serialize;

use super::error::{aws_error, error_code, PipelineError};
use crate::aws::AwsContext;

/// Amazon Linux 2023 for CPU machines.
pub const AL2023_X86: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
pub const AL2023_ARM: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";
/// Deep Learning Base AMIs (NVIDIA driver, CUDA) for NVIDIA GPU machines.
pub const DLAMI_GPU: &str =
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id";
pub const DLAMI_GPU_ARM: &str =
    "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id";
/// The NVIDIA families those images support, as their release notes list
/// them ("supported_ec2_instances" of the Deep Learning Base OSS Nvidia
/// Driver GPU AMI (Amazon Linux 2023), x86_64 and ARM64, 2026): older GPUs
/// (P2, P3, G3) and fractional ones (G6f) are not among them.
const DLAMI_GPU_FAMILIES: &[&str] = &[
    "g4dn", "g5", "g6", "g6e", "gr6", "g7e", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200",
    "p6-b300",
];
const DLAMI_GPU_ARM_FAMILIES: &[&str] = &["g5g", "p6e-gb200", "p6e-gb300"];

/// What accelerates a machine, as far as its image is concerned.
#[derive(Debug, Clone, Copy, Serialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Accelerator {
    None,
    /// NVIDIA GPUs: the Deep Learning AMIs carry their drivers.
    Nvidia,
    /// AMD GPUs (g4ad): no automatic image has their drivers.
    Amd,
    /// AWS Inferentia / Trainium: they need the Neuron images.
    Neuron,
    /// Anything else (FPGAs, media accelerators…).
    Other,
}

#[derive(Debug, Clone, Copy, Serialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TypeCategory {
    General,
    Compute,
    Memory,
    Gpu,
    Other,
}

#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceTypeInfo {
    pub name: String,
    pub vcpus: i32,
    pub memory_mib: u32,
    pub gpu_count: i32,
    pub gpu_model: Option<String>,
    pub arm: bool,
    pub category: TypeCategory,
    pub accelerator: Accelerator,
    /// Said next to the type when the automatic image does not suit it.
    pub warning: Option<String>,
    /// An older generation (m1, m3, c3, …): shown behind "Show older types".
    pub previous_generation: bool,
    /// On-demand $/hour in the region (Linux); `None`: price unknown.
    pub usd_per_hour: Option<f64>,
    /// Set on the few types recommended first: what each is good for.
    pub recommended: Option<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AmiInfo {
    pub id: String,
    pub name: String,
    /// Smallest root disk the image accepts.
    pub min_disk_gb: i32,
    pub root_device_name: String,
}

fn to_info(t: &Ec2TypeInfo) -> Option<InstanceTypeInfo> {
    let name = t.instance_type()?.as_str().to_string();
    let gpus = t.gpu_info().map(|g| g.gpus()).unwrap_or_default();
    let gpu_count = gpus.iter().filter_map(|g| g.count()).sum();
    let gpu_model = gpus.first().map(|g| {
        format!(
            "{} {}",
            g.manufacturer().unwrap_or(""),
            g.name().unwrap_or("")
        )
        .trim()
        .to_string()
    });
    let arm = t
        .processor_info()
        .map(|p| {
            p.supported_architectures()
                .iter()
                .any(|a| a.as_str() == "arm64")
        })
        .unwrap_or(false);
    let family = name.split('.').next().unwrap_or("");
    let vendor = gpus
        .first()
        .and_then(|g| g.manufacturer())
        .unwrap_or("")
        .to_ascii_lowercase();
    let accelerator = accelerator_of(family, gpu_count, &vendor);
    let warning = warning_of(family, accelerator, arm);
    let category = if gpu_count > 0 {
        TypeCategory::Gpu
    } else {
        match family.chars().next() {
            Some('t' | 'm' | 'a') => TypeCategory::General,
            Some('c') => TypeCategory::Compute,
            Some('r' | 'x' | 'z' | 'u') => TypeCategory::Memory,
            _ => TypeCategory::Other,
        }
    };
    Some(InstanceTypeInfo {
        name,
        vcpus: t.v_cpu_info().and_then(|v| v.default_v_cpus()).unwrap_or(0),
        memory_mib: t
            .memory_info()
            .and_then(|m| m.size_in_mib())
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(0),
        gpu_count,
        gpu_model: if gpu_count > 0 { gpu_model } else { None },
        arm,
        category,
        accelerator,
        warning,
        previous_generation: t.current_generation() == Some(false),
        usd_per_hour: None,
        recommended: None,
    })
}

/// The accelerator of a family, from EC2's GPU facts and the family name.
pub fn accelerator_of(family: &str, gpu_count: i32, gpu_vendor: &str) -> Accelerator {
    if family.starts_with("inf") || family.starts_with("trn") {
        return Accelerator::Neuron;
    }
    if gpu_count > 0 {
        return match gpu_vendor {
            v if v.contains("nvidia") => Accelerator::Nvidia,
            v if v.contains("amd") => Accelerator::Amd,
            _ => Accelerator::Other,
        };
    }
    if family.starts_with('f') || family.starts_with("vt") || family.starts_with("dl") {
        return Accelerator::Other;
    }
    Accelerator::None
}

/// Does the automatic Deep Learning image support this NVIDIA family?
fn image_supports(family: &str, arm: bool) -> bool {
    let families = if arm {
        DLAMI_GPU_ARM_FAMILIES
    } else {
        DLAMI_GPU_FAMILIES
    };
    families.contains(&family)
}

/// Said next to a type whose automatic image does not suit it.
fn warning_of(family: &str, accelerator: Accelerator, arm: bool) -> Option<String> {
    if accelerator == Accelerator::Nvidia && !image_supports(family, arm) {
        return Some(format!(
            "Older NVIDIA GPU ({}): AWS's current Deep Learning image does not support it, so easyTDV has no automatic image for it. Pick a g4dn, g5, g6 or newer machine, or enter an image that supports it.",
            family.to_ascii_uppercase()
        ));
    }
    accelerator_warning(accelerator)
}

/// Whether easyTDV offers the type for an EC2 run: every type but the
/// NVIDIA ones its automatic image does not support (P2, P3, G3…), which
/// would start without a working GPU driver.
pub fn offered_for_ec2(info: &InstanceTypeInfo) -> bool {
    let family = info.name.split('.').next().unwrap_or("");
    info.accelerator != Accelerator::Nvidia || image_supports(family, info.arm)
}

fn accelerator_warning(a: Accelerator) -> Option<String> {
    match a {
        Accelerator::None | Accelerator::Nvidia => None,
        Accelerator::Amd => Some("AMD GPU: the automatic image has no AMD drivers, so training would run on the CPU only. Pick an NVIDIA machine (g4dn, g5, g6…) or enter an image with AMD drivers.".into()),
        Accelerator::Neuron => Some("AWS Inferentia/Trainium: these need AWS's Neuron images and code written for Neuron. Pick an NVIDIA GPU machine unless you know you need this.".into()),
        Accelerator::Other => Some("Special-purpose accelerator: the automatic image has no drivers for it.".into()),
    }
}

/// Describes one instance type; `UnknownInstanceType` if the region lacks it.
pub async fn describe_type(
    ctx: &AwsContext,
    instance_type: &str,
) -> Result<InstanceTypeInfo, PipelineError> {
    let unknown = || PipelineError::UnknownInstanceType {
        instance_type: instance_type.into(),
        region: ctx.region().into(),
    };
    let out = ctx
        .ec2()
        .describe_instance_types()
        .instance_types(instance_type.into())
        .send()
        .await
        .map_err(|e| match error_code(&e) {
            Some("InvalidInstanceType") => unknown(),
            _ => aws_error("describe the machine type", e),
        })?;
    out.instance_types()
        .iter()
        .find_map(to_info)
        .ok_or_else(unknown)
}

/// The instance types offered in the context's region, sorted by category then size.
pub async fn list_instance_types(ctx: &AwsContext) -> Result<Vec<InstanceTypeInfo>, PipelineError> {
    let ec2 = ctx.ec2();
    let mut offered = Vec::new();
    let mut pages = ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::Region)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("list the machine types", e))?;
        offered.extend(
            page.instance_type_offerings()
                .iter()
                .filter_map(|o| o.instance_type().cloned()),
        );
    }
    let mut infos = Vec::new();
    for chunk in offered.chunks(100) {
        let out = ec2
            .describe_instance_types()
            .set_instance_types(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("describe the machine types", e))?;
        infos.extend(out.instance_types().iter().filter_map(to_info));
    }
    infos.sort_by(|a, b| {
        (a.category as u8, a.vcpus, a.memory_mib, &a.name).cmp(&(
            b.category as u8,
            b.vcpus,
            b.memory_mib,
            &b.name,
        ))
    });
    Ok(infos)
}

/// The public SSM parameter naming the right current image for a machine:
/// by architecture and accelerator vendor. Machines no automatic image
/// supports are refused (the user may still enter an image).
pub fn default_image_parameter(info: &InstanceTypeInfo) -> Result<&'static str, PipelineError> {
    if !offered_for_ec2(info) {
        return Err(PipelineError::NoAutomaticImage {
            instance_type: info.name.clone(),
            why: info.warning.clone().unwrap_or_default(),
        });
    }
    match (info.accelerator, info.arm) {
        (Accelerator::Nvidia, false) => Ok(DLAMI_GPU),
        (Accelerator::Nvidia, true) => Ok(DLAMI_GPU_ARM),
        (Accelerator::None, false) => Ok(AL2023_X86),
        (Accelerator::None, true) => Ok(AL2023_ARM),
        (Accelerator::Amd | Accelerator::Neuron | Accelerator::Other, _) => {
            Err(PipelineError::NoAutomaticImage {
                instance_type: info.name.clone(),
                why: info.warning.clone().unwrap_or_default(),
            })
        }
    }
}

/// Resolves the image id: the user's, or the current one for the machine.
pub async fn resolve_ami(
    ctx: &AwsContext,
    info: &InstanceTypeInfo,
    custom: Option<&str>,
) -> Result<AmiInfo, PipelineError> {
    let id = match custom {
        Some(id) => id.to_string(),
        None => {
            let name = default_image_parameter(info)?;
            let out =
                ctx.ssm().get_parameter().name(name).send().await.map_err(
                    |e| match error_code(&e) {
                        Some("ParameterNotFound") => PipelineError::UnknownImage(name.to_string()),
                        _ => aws_error("look up the current machine image", e),
                    },
                )?;
            out.parameter()
                .and_then(|p| p.value())
                .map(str::to_string)
                .ok_or_else(|| PipelineError::UnknownImage(name.to_string()))?
        }
    };
    describe_image(ctx, &id).await
}

pub async fn describe_image(ctx: &AwsContext, id: &str) -> Result<AmiInfo, PipelineError> {
    let out = ctx
        .ec2()
        .describe_images()
        .image_ids(id)
        .send()
        .await
        .map_err(|e| match error_code(&e) {
            Some(
                "InvalidAMIID.NotFound" | "InvalidAMIID.Malformed" | "InvalidAMIID.Unavailable",
            ) => PipelineError::UnknownImage(id.to_string()),
            _ => aws_error("describe the machine image", e),
        })?;
    let image = out
        .images()
        .first()
        .ok_or_else(|| PipelineError::UnknownImage(id.to_string()))?;
    let root = image.root_device_name().unwrap_or("/dev/xvda").to_string();
    let min_disk_gb = image
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == Some(root.as_str()))
        .and_then(|m| m.ebs())
        .and_then(|e| e.volume_size())
        .unwrap_or(8);
    Ok(AmiInfo {
        id: id.to_string(),
        name: image.name().unwrap_or(id).to_string(),
        min_disk_gb,
        root_device_name: root,
    })
}

/// The regions enabled for the account (EC2 `DescribeRegions`), with their
/// console names; a region too new for our name table shows its code.
pub async fn enabled_regions(
    ctx: &AwsContext,
) -> Result<Vec<crate::regions::RegionInfo>, PipelineError> {
    let out = ctx
        .ec2()
        .describe_regions()
        .send()
        .await
        .map_err(|e| aws_error("list the regions of your account", e))?;
    let mut regions: Vec<_> = out
        .regions()
        .iter()
        .filter_map(|r| r.region_name())
        .map(|code| {
            crate::regions::region(code).unwrap_or_else(|| {
                crate::regions::RegionInfo::new(code, code, r_opt_in(out.regions(), code))
            })
        })
        .collect();
    regions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(regions)
}

fn r_opt_in(all: &[aws_sdk_ec2::types::Region], code: &str) -> bool {
    all.iter()
        .find(|r| r.region_name() == Some(code))
        .and_then(|r| r.opt_in_status())
        .is_some_and(|s| s != "opt-in-not-required")
}

mod network;
pub use network::{default_vpc, launch_subnets, LaunchSubnet};

#[cfg(test)]
mod tests;
