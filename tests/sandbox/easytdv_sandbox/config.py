"""Runtime settings of the sandbox and the environment its child processes get."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

DUMMY_SECRET = "sandbox"  # the secret access key: signatures are not checked
# Variables passed through from the server's environment to Lambdas and
# instance scripts (CA bundles, proxies, pip settings); never AWS_* ones.
PASSTHROUGH = (
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


@dataclass
class Config:
    endpoint: str = "http://127.0.0.1:4566"
    data_dir: Path = field(default_factory=lambda: Path(__file__).resolve().parent.parent / ".data")
    cfn_delay: float = 0.0
    lambda_delay: float = 0.0  # seconds every Lambda invocation waits before its handler runs
    quotas: dict = field(default_factory=dict)  # quota code (or SageMaker quota name) -> value, every region (--quota)
    sagemaker_delay: float = 0.0  # seconds each training-job phase (Starting, Downloading, ...) lasts at least
    access_key: str = ""  # the secret every request must be signed with (access.py); set at start


CONFIG = Config()


def venv_bin() -> Path:
    """The bin dir of the Python running the sandbox (the sandbox venv)."""
    return Path(sys.executable).parent


def python() -> str:
    return str(venv_bin() / "python")


def child_env(region: str, access_key: str | None = None, **extra: str) -> dict[str, str]:
    """A clean environment pointing AWS SDKs/CLI at the sandbox, with credentials
    naming the principal (see principals.py)."""
    env = {k: v for k, v in os.environ.items() if k in PASSTHROUGH or k.startswith("PIP_")}
    env.setdefault("LANG", "C.UTF-8")
    # The sandbox is on this computer: never through a proxy (it would see the keys).
    loopback = "127.0.0.1,localhost,::1"
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = f"{env[name]},{loopback}" if env.get(name) else loopback
    env.update(
        PATH=f"{venv_bin()}:/usr/local/bin:/usr/bin:/bin",
        AWS_ENDPOINT_URL=CONFIG.endpoint,
        AWS_ACCESS_KEY_ID=access_key or CONFIG.access_key,
        AWS_SECRET_ACCESS_KEY=DUMMY_SECRET,
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        EASYTDV_SANDBOX="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env
