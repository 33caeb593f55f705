"""The PyTorch image publishers (data/sagemaker/pytorch-training.json) and how they are read from the
SageMaker Python SDK's image config. No sandbox, no network: `--check` (which downloads the pinned SDK)
is run by hand when the pin moves."""

from __future__ import annotations

import re

from easytdv_sandbox import sagemaker_images


def test_the_committed_data_names_its_pinned_source():
    data = sagemaker_images.load()
    assert data["version"] == sagemaker_images.PYTORCH_VERSION
    assert data["repository"] == "pytorch-training"
    assert data["source"]["sha256"] == sagemaker_images.SDK_SHA256
    assert sagemaker_images.SDK_VERSION in data["source"]["package"]
    registries = data["registries"]
    assert list(registries) == sorted(registries)
    assert all(re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", r) for r in registries), registries
    assert all(re.fullmatch(r"\d{12}", a) for a in registries.values()), registries


def test_the_six_regions_with_their_own_registry():
    """The regions issue 20 found wrong: each has its own publisher, not 763104351884."""
    expected = {
        "ap-east-2": "975050140332",
        "ap-northeast-3": "364406365360",
        "ap-southeast-5": "550225433462",
        "ap-southeast-6": "633930458069",
        "ap-southeast-7": "590183813437",
        "mx-central-1": "637423239942",
    }
    assert {r: sagemaker_images.publisher(r) for r in expected} == expected
    assert sagemaker_images.publisher("eu-west-3") == "763104351884"
    assert sagemaker_images.publisher("xx-nowhere-1") is None


def test_from_sdk_config_resolves_aliases_and_keeps_only_the_registries():
    config = {
        "training": {
            "processors": ["cpu", "gpu"],
            "version_aliases": {"2.5": sagemaker_images.PYTORCH_VERSION},
            "versions": {
                sagemaker_images.PYTORCH_VERSION: {
                    "py_versions": ["py311"],
                    "registries": {"us-east-1": "763104351884", "ap-northeast-3": "364406365360"},
                    "repository": "pytorch-training",
                },
                "1.0.0": {"registries": {"us-east-1": "111111111111"}, "repository": "pytorch-training"},
            },
        }
    }
    data = sagemaker_images.from_sdk_config(config, "2.5")
    assert data["version"] == sagemaker_images.PYTORCH_VERSION
    assert data["registries"] == {"ap-northeast-3": "364406365360", "us-east-1": "763104351884"}
    assert list(data["registries"]) == ["ap-northeast-3", "us-east-1"]
    rendered = sagemaker_images.render(data)
    assert rendered.endswith("}\n") and "111111111111" not in rendered
