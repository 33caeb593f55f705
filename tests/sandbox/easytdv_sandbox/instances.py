"""Sandbox EC2 instances: a directory each, user data run once at launch (as
cloud-init would), SSM managed-instance info, and cleanup on terminate."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from moto.ec2.models.instances import Instance, InstanceBackend

from . import ebs_keys, gateway, latency, principals, procs
from .config import CONFIG, child_env


@dataclass
class Runtime:
    instance_id: str
    region: str
    dir: Path
    ready: bool = False  # user data finished: the SSM agent is "Online"
    online_since: datetime | None = None
    proc: object = None
    stopped: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


log = logging.getLogger(__name__)
RUNTIMES: dict[str, Runtime] = {}
SHIMS = Path(__file__).resolve().parent / "shims"


def instance_dir(instance_id: str) -> Path:
    return CONFIG.data_dir / "instances" / instance_id


def instance_env(rt: Runtime) -> dict[str, str]:
    home = str(rt.dir)
    env = child_env(
        rt.region,
        principals.instance_key(rt.instance_id),
        HOME=home,
        EASYTDV_HOME=home,
        EASYTDV_SANDBOX_INSTANCE_ID=rt.instance_id,
        # The instance metadata the scripts read (IMDS: the spot notice), as files.
        EASYTDV_IMDS_DIR=str(rt.dir / ".imds"),
        PIP_CACHE_DIR=str(CONFIG.data_dir / "pip-cache"),
    )
    env["PATH"] = f"{SHIMS}:{env['PATH']}"  # shutdown & co. act on the sandbox instance
    return env


def _user_data(instance: Instance) -> bytes:
    raw = instance.user_data
    if not raw:
        return b""
    encoded = raw.as_bytes() if hasattr(raw, "as_bytes") else str(raw).encode()
    try:
        data = base64.b64decode(encoded)
    except ValueError:
        data = encoded
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _mark_ready(rt: Runtime) -> None:
    rt.ready, rt.online_since = True, datetime.now(UTC)


def _run_user_data(rt: Runtime, script: Path) -> None:
    log = rt.dir / "cloud-init-output.log"
    with rt.lock:
        if rt.stopped:
            return
        with open(log, "ab") as out:
            rt.proc = procs.spawn([str(script)], rt.instance_id, instance_env(rt), cwd=rt.dir, stdout=out, stderr=out)
    code = rt.proc.wait()
    with open(log, "a") as out:
        out.write(f"\n[sandbox] user data exited with code {code}\n")
    (rt.dir / "user-data.exit-code").write_text(f"{code}\n")
    _mark_ready(rt)


def launched(instance: Instance, region: str) -> None:
    rt = Runtime(instance.id, region, instance_dir(instance.id))
    rt.dir.mkdir(parents=True, exist_ok=True)
    RUNTIMES[instance.id] = rt
    data = _user_data(instance)
    if not data.startswith(b"#!"):
        if data:  # e.g. #cloud-config: not emulated
            (rt.dir / "cloud-init-output.log").write_text("[sandbox] user data is not a script; skipped\n")
        _mark_ready(rt)
        return
    script = rt.dir / "user-data"
    script.write_bytes(data)
    script.chmod(0o755)
    threading.Thread(target=_run_user_data, args=(rt, script), daemon=True).start()


def stopped(instance_id: str) -> None:
    """Instance stopped or terminated: its processes die with it."""
    from . import ssm_exec

    rt = RUNTIMES.get(instance_id)
    if rt:
        with rt.lock:
            rt.stopped = True
            procs.kill_group(rt.proc)
    ssm_exec.kill_instance(instance_id)
    procs.kill_tagged(instance_id)  # whatever its scripts left running


def is_online(instance: Instance) -> bool:
    rt = RUNTIMES.get(instance.id)
    return instance.state == "running" and rt is not None and rt.ready and not rt.stopped


def instance_information(instance: Instance) -> dict:
    rt = RUNTIMES[instance.id]
    return {
        "InstanceId": instance.id,
        "PingStatus": "Online" if is_online(instance) else "ConnectionLost",
        "LastPingDateTime": datetime.now(UTC),
        "AgentVersion": "3.3.0.0",
        "IsLatestVersion": True,
        "PlatformType": "Linux",
        "PlatformName": "Amazon Linux",
        "PlatformVersion": "2023",
        "ResourceType": "EC2Instance",
        "IPAddress": instance.private_ip or "",
        "ComputerName": instance.private_dns_name or "",
        "RegistrationDate": rt.online_since,
        "SourceId": instance.id,
        "SourceType": "AWS::EC2::Instance",
    }


def managed_instances(ec2_backend) -> list[Instance]:
    """Instances the SSM agent has registered: user data done, not terminated."""
    return [
        i
        for i in ec2_backend.all_instances()
        if i.state not in ("terminated", "shutting-down") and i.id in RUNTIMES and RUNTIMES[i.id].ready
    ]


def reset() -> None:
    for rt in list(RUNTIMES.values()):
        rt.stopped = True
        procs.kill_group(rt.proc)
    RUNTIMES.clear()


_orig_run = InstanceBackend.run_instances
_orig_instance_status = Instance.instance_status
_orig_system_status = Instance.system_status
INITIALIZING = {"Details": [{"Name": "reachability", "Status": "initializing"}], "Status": "initializing"}


def _booting(instance: Instance) -> bool:
    """Running, but its user data (cloud-init) has not finished yet."""
    rt = RUNTIMES.get(instance.id)
    return instance.state == "running" and rt is not None and not rt.ready and not rt.stopped


def _instance_status(self) -> dict:
    return dict(INITIALIZING) if _booting(self) else _orig_instance_status.fget(self)


def _system_status(self) -> dict:
    return dict(INITIALIZING) if _booting(self) else _orig_system_status.fget(self)


_orig_terminate = Instance.terminate
_orig_stop = Instance.stop
_orig_start = Instance.start


def _run_instances(self, *args, **kwargs):
    from . import quotas

    known = set(self.reservations)
    reservation = quotas.run_instances(_orig_run, self, *args, **kwargs)
    if reservation.id in known:  # the same ClientToken again: nothing new launched
        return reservation
    for instance in reservation.instances:
        why = ebs_keys.refusal(self, instance, ebs_keys.caller())
        if why:  # its disk cannot be encrypted: it never boots
            log.warning("sandbox: %s fails to launch: %s", instance.id, why)
            ebs_keys.refuse(instance, why)
            continue
        if latency.on():  # pending, running, then booted after AWS's time
            latency.launch_later(self, instance, launched)
        else:
            launched(instance, self.region_name)
    return reservation


def _terminate(self):
    previous = _orig_terminate(self)
    stopped(self.id)
    return previous


def _stop(self):
    previous = _orig_stop(self)
    stopped(self.id)
    return previous


def _start(self):
    previous = _orig_start(self)
    rt = RUNTIMES.get(self.id)
    if rt:
        rt.stopped = False  # the agent comes back; user data does not run again
    return previous


# EC2's own words for a spot instance it took back (API_StateReason).
SPOT_TERMINATION = (
    "Server.SpotInstanceTermination",
    "Server.SpotInstanceTermination: The instance was terminated because the number of Spot requests with a "
    "maximum price equal to or higher than the Spot price exceeded available capacity or because of an "
    "increase in the Spot price.",
)


@gateway.hook("spot-interrupt")
def _spot_interrupt(method: str, data: dict) -> tuple[int, dict]:
    """POST {"instance_id", "notice_seconds" (optional)}: AWS takes back a spot
    instance. With a notice, the instance's metadata says so first
    (`spot/instance-action`: {"action": "terminate", "time": ...}, as IMDS
    does two minutes ahead; here `notice_seconds` ahead); then it is
    terminated, its state reason Server.SpotInstanceTermination. An on-demand
    one is refused."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import StateReason

    iid = str(data.get("instance_id", ""))
    rt = RUNTIMES.get(iid)
    account = str(data.get("account") or principals.DEFAULT_ACCOUNT)
    region = str(data.get("region") or (rt.region if rt else ""))
    try:
        instance = ec2_backends[account][region].get_instance_by_id(iid)
    except KeyError:
        instance = None
    if instance is None:
        return 404, {"error": f"no instance {iid}"}
    if getattr(instance, "lifecycle", None) != "spot":
        return 400, {"error": f"{iid} is not a spot instance"}

    def take_back():
        instance.terminate()
        instance._reason = "Service initiated"
        instance.state_reason = StateReason(SPOT_TERMINATION[1], SPOT_TERMINATION[0])

    notice = float(data.get("notice_seconds") or 0)
    if notice > 0:
        at = datetime.now(UTC).timestamp() + notice
        action = {"action": "terminate", "time": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        path = instance_dir(iid) / ".imds" / "spot" / "instance-action"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(action))
        timer = threading.Timer(notice, take_back)
        timer.daemon = True
        timer.start()
        return 200, {"instance_id": iid, "notice": action}
    take_back()
    return 200, {"instance_id": iid, "state": instance.state}


def install() -> None:
    ebs_keys.install()
    InstanceBackend.run_instances = _run_instances
    Instance.instance_status = property(_instance_status)
    Instance.system_status = property(_system_status)
    Instance.terminate = _terminate
    Instance.stop = _stop
    Instance.start = _start
