"""Who publishes AWS's PyTorch training image (Deep Learning Containers) in each region.

`data/sagemaker/pytorch-training.json` holds, for the PyTorch version easyTDV's SageMaker runs
use, the AWS account whose ECR registry serves `pytorch-training` in each region, as the
SageMaker Python SDK's image config lists it (`src/sagemaker/image_uri_config/pytorch.json`,
`training` → `versions` → <version> → `registries`). Only those vendor facts are kept, not the
SDK's code. The app's table (`src-tauri/core/src/pipeline/sagemaker/image.rs`) is checked
against this file by a Rust test; the sandbox refuses a `pytorch-training` image from a
publisher account that does not serve the job's region, as SageMaker does.

The source is pinned: the PyPI sdist of `sagemaker==SDK_VERSION` (SHA-256 SDK_SHA256).

    tests/sandbox/.venv/bin/python -m easytdv_sandbox.sagemaker_images --write   # regenerate
    tests/sandbox/.venv/bin/python -m easytdv_sandbox.sagemaker_images --check   # exit 1 if stale

(run from tests/sandbox; both download the sdist with pip). To follow a newer SDK release,
change SDK_VERSION and SDK_SHA256 together (the hash is on the release's PyPI page), run
`--write`, and review the diff; to change the PyTorch version, change PYTORCH_VERSION here and
`PYTORCH` in image.rs together.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "sagemaker" / "pytorch-training.json"

SDK_VERSION = "2.257.7"
SDK_SHA256 = "67f434cc2477713af479e7e9443304e1a0270c06821bf0d4378c86e2cfd61166"
PYTORCH_VERSION = "2.5.1"
REPOSITORY = "pytorch-training"
CONFIG_PATH = "src/sagemaker/image_uri_config/pytorch.json"


@lru_cache(maxsize=1)
def load() -> dict:
    """The committed data: {"version", "repository", "registries": {region: account}, ...}."""
    return json.loads(DATA.read_text(encoding="utf-8"))


def publisher(region: str) -> str | None:
    """The account serving `pytorch-training` in `region`, or None when the SDK lists none there."""
    return load()["registries"].get(region)


def publishers() -> set[str]:
    """Every account that publishes the image somewhere."""
    return set(load()["registries"].values())


def from_sdk_config(config: dict, version: str = PYTORCH_VERSION) -> dict:
    """The data file's content from the SDK's pytorch.json (aliases such as "2.5" resolved)."""
    training = config["training"]
    version = training.get("version_aliases", {}).get(version, version)
    entry = training["versions"][version]
    if entry.get("repository") != REPOSITORY:
        raise ValueError(f"PyTorch {version}: repository {entry.get('repository')!r}, expected {REPOSITORY!r}")
    return {
        "generated_by": "python -m easytdv_sandbox.sagemaker_images --write (tests/sandbox): do not edit",
        "source": {
            "package": f"sagemaker=={SDK_VERSION} (PyPI sdist)",
            "sha256": SDK_SHA256,
            "file": CONFIG_PATH,
            "path": f"training.versions.{version}.registries",
        },
        "version": version,
        "repository": REPOSITORY,
        "py_versions": entry.get("py_versions", []),
        "registries": dict(sorted(entry["registries"].items())),
    }


def _sdk_config() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"sagemaker=={SDK_VERSION}",
                "-d",
                tmp,
            ],
            check=True,
        )
        sdist = Path(tmp) / f"sagemaker-{SDK_VERSION}.tar.gz"
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != SDK_SHA256:
            raise SystemExit(f"sagemaker-{SDK_VERSION}.tar.gz has SHA-256 {digest}, expected {SDK_SHA256}")
        with tarfile.open(sdist) as tar:
            member = tar.extractfile(f"sagemaker-{SDK_VERSION}/{CONFIG_PATH}")
            if member is None:
                raise SystemExit(f"{CONFIG_PATH} is not in sagemaker-{SDK_VERSION}.tar.gz")
            return json.load(member)


def render(data: dict) -> str:
    return json.dumps(data, indent=2) + "\n"


def main(argv: list[str]) -> int:
    if argv not in (["--write"], ["--check"]):
        print(__doc__, file=sys.stderr)
        return 2
    fresh = render(from_sdk_config(_sdk_config()))
    if argv == ["--write"]:
        DATA.parent.mkdir(parents=True, exist_ok=True)
        DATA.write_text(fresh, encoding="utf-8")
        print(f"wrote {DATA}")
        return 0
    if DATA.read_text(encoding="utf-8") != fresh:
        print(f"{DATA} differs from sagemaker=={SDK_VERSION}: run with --write", file=sys.stderr)
        return 1
    print(f"{DATA} matches sagemaker=={SDK_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
