"""The sandbox server: moto's werkzeug app with the easyTDV extensions."""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

from moto.moto_api._internal.models import MotoAPIBackend
from moto.moto_server import werkzeug_app
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import ThreadedWSGIServer

from . import (
    access,
    cfn_delay,
    cfn_failures,
    cfn_params,
    cfn_updates,
    gateway,
    iam_rules,
    instances,
    lambda_exec,
    latency,
    persist,
    pricing,
    principals,
    procs,
    public_params,
    quotas,
    region_deny,
    s3_checksums,
    s3_defaults,
    s3_regions,
    sagemaker_api,
    sagemaker_exec,
    spot_prices,
    ssm_api,
    ssm_exec,
)
from .config import CONFIG

_installed = False
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_orig_reset = MotoAPIBackend.reset


def reset_runtime() -> None:
    """Kill everything the sandbox runs and forget its extension state."""
    ssm_exec.reset()
    instances.reset()
    lambda_exec.reset()
    quotas.reset()
    pricing.reset()
    region_deny.reset()
    sagemaker_exec.reset()
    latency.reset()
    gateway.forget_roles()
    procs.kill_tagged()


def _reset(self) -> None:  # POST /moto-api/reset
    reset_runtime()
    _orig_reset(self)
    iam_rules.set_up_account()


def install() -> None:
    global _installed
    if _installed:
        return
    # No browser is ever told it may read an answer (access.py refuses any Origin too).
    werkzeug_app.DISABLE_GLOBAL_CORS = True
    for module in (
        principals,
        iam_rules,
        cfn_updates,
        lambda_exec,
        instances,
        quotas,
        ssm_exec,
        ssm_api,
        public_params,
        cfn_delay,
        cfn_failures,
        cfn_params,  # after cfn_failures: wraps its create_stack
        spot_prices,
        sagemaker_api,
        s3_defaults,
        s3_regions,
        s3_checksums,
        region_deny,
        latency,
    ):
        module.install()
    MotoAPIBackend.reset = _reset
    _installed = True


class _Server(ThreadedWSGIServer):
    """One listener per address. On Windows, SO_REUSEADDR (werkzeug's default) lets another process,
    another user's too, bind the same address and take requests and the key they carry;
    SO_EXCLUSIVEADDRUSE forbids it. (On Linux and macOS no other user can bind a port that listens.)"""

    allow_reuse_address = os.name != "nt"

    def server_bind(self) -> None:
        if os.name == "nt":
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        super().server_bind()


class Sandbox:
    """One sandbox per process (the extensions' settings are process-wide)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
        cfn_delay: float = 0.0,
        verbose: bool = False,
        lambda_delay: float = 0.0,
        quotas: dict | None = None,
        sagemaker_delay: float = 0.0,
        access_key: str | None = None,
        latency_scale: float = 0.0,
    ):
        if host not in LOOPBACK:
            raise ValueError(f"--host {host}: the sandbox listens only on this computer (127.0.0.1, ::1, localhost)")
        self.host, self.port = host, port
        if data_dir is not None:
            CONFIG.data_dir = Path(data_dir).resolve()
        CONFIG.cfn_delay = float(cfn_delay)
        CONFIG.lambda_delay = float(lambda_delay)
        CONFIG.quotas = dict(quotas or {})
        CONFIG.sagemaker_delay = float(sagemaker_delay)
        # AWS's latencies (latency.py): the SageMaker phases take the model's time unless given.
        latency.configure(latency_scale)
        if not CONFIG.sagemaker_delay:
            CONFIG.sagemaker_delay = latency.seconds("sagemaker.phase")
        # The secret every request is signed with (access.py): given by whoever starts the sandbox, else new.
        CONFIG.access_key = access_key or access.new_key()
        logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.WARNING)
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return CONFIG.endpoint

    @property
    def access_key(self) -> str:
        return CONFIG.access_key

    def start(self) -> str:
        install()
        CONFIG.data_dir.mkdir(parents=True, exist_ok=True)
        persist.load()
        iam_rules.set_up_account()
        gateway.start_recording()
        app = gateway.Gateway(DomainDispatcherApplication(create_backend_app))
        self._server = _Server(self.host, self.port, app, MotoRequestHandler)
        self.port = self._server.server_address[1]
        shown = "[::1]" if self.host == "::1" else "127.0.0.1"
        CONFIG.endpoint = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return CONFIG.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            persist.save()
        reset_runtime()
