"""SageMaker training jobs really run: each of the job's InstanceCount hosts
(algo-1 ... algo-N) is a process group in its own directory standing in for
/opt/ml, set up the way AWS's PyTorch training container does it (script mode:
sourcedir.tar.gz unpacked to code/, requirements.txt installed in a venv,
`python <sagemaker_program> --hp value ...` with SageMaker's SM_* variables and,
with torch_distributed, torchrun's variables on loopback).

The platform's own work (input/code downloads, checkpoint sync, log delivery,
model/output upload) goes through the sandbox's endpoint as the job's
principal (access key `sagemaker-<job>`), marked `"via": "sagemaker"` in the
call recording; the script gets the same credentials.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import principals, procs
from .config import CONFIG, child_env, venv_bin

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
PLATFORM_AGENT = "easytdv-sandbox-sagemaker-platform"
STOP_GRACE = 120.0  # seconds between SIGTERM and SIGKILL (AWS: 120)
CHECKPOINT_SYNC = 1.0  # seconds between checkpoint uploads while training
FAILURE_MAX = 1024  # AWS keeps the first 1024 characters of the failure file
TORCH_FLAGS = ("sagemaker_torch_distributed_enabled",)
PYTHON_ERRORS = (  # sagemaker-training-toolkit's _PYTHON_ERRORS_: where ErrorMessage starts
    "BaseException Exception ArithmeticError AssertionError AttributeError BlockingIOError BrokenPipeError "
    "BufferError ChildProcessError ConnectionAbortedError ConnectionError ConnectionRefusedError "
    "ConnectionResetError EOFError EnvironmentError FileExistsError FileNotFoundError FloatingPointError IOError "
    "ImportError IndentationError IndexError InterruptedError IsADirectoryError KeyError LookupError MemoryError "
    "ModuleNotFoundError NameError NotADirectoryError NotImplementedError OSError OverflowError PermissionError "
    "ProcessLookupError RecursionError ReferenceError RuntimeError SyntaxError SystemError TabError TimeoutError "
    "TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError "
    "ValueError ZeroDivisionError"
).split() + ["Invalid requirement", "ResourceExhaustedError", "OutOfRangeError", "InvalidArgumentError"]
MESSAGES = {
    "Starting": (
        "Starting the training job",
        "Launching requested ML instances",
        "Preparing the instances for training",
    ),
    "Downloading": ("Downloading input data", "Downloading the training image"),
    "Training": ("Training image download completed. Training in progress.",),
    "Uploading": ("Uploading generated training model",),
    "Completed": ("Training job completed",),
    "Failed": ("Training job failed",),
    "Stopping": ("Stopping the training job",),
    "Stopped": ("Training job stopped",),
    "MaxRuntimeExceeded": ("Training job stopped: it exceeded MaxRuntimeInSeconds",),
    "MaxWaitTimeExceeded": ("Training job stopped: it exceeded MaxWaitTimeInSeconds",),
    "Interrupted": ("Spot capacity was interrupted: the training instances were reclaimed",),
    "Restarting": ("Restarting the training job on new spot instances",),
}
PYTHON_SHOWN = f"/opt/conda/bin/python{sys.version_info.major}.{sys.version_info.minor}"

JOBS: dict[tuple[str, str, str], Job] = {}  # (account, region, name) -> job
DELAY: dict[str, float] = {}  # "seconds" set by the hook (None: CONFIG.sagemaker_delay)
# The role-propagation hook (sagemaker_api): role name (or "*") -> seconds a new role cannot be assumed,
# and how many CreateTrainingJob calls each role name was refused for it.
ROLE_PROPAGATION: dict[str, float] = {}
ROLES_REFUSED: dict[str, int] = {}


def now() -> datetime:
    return datetime.now(UTC)


def delay() -> float:
    return DELAY.get("seconds", CONFIG.sagemaker_delay)


def job_key(job_name: str) -> str:
    return principals.sagemaker_key(job_name)


def find(job_name: str) -> Job | None:
    return next((j for (_, _, name), j in list(JOBS.items()) if name == job_name), None)


def role_name_of(job_name: str) -> str | None:
    job = find(job_name)
    return job.role_arn.rsplit("/", 1)[-1] if job else None


def _decode(value: str):
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _cmd_args(hps: dict) -> list[str]:
    """sagemaker-training-toolkit's mapping.to_cmd_args."""
    out = []
    for key in sorted(hps):
        value = hps[key]
        out.append(f"--{key}" if len(key) > 1 else f"-{key}")
        if hasattr(value, "items"):
            out.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            out.append("" if value is None else str(value))
    return out


def _env_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Halt(Exception):
    """The job was stopped or interrupted while a host was being set up."""


class AlgorithmFailure(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class LogStream:
    name: str
    events: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: int = 0  # the latest timestamp given

    def line(self, text: str) -> None:
        # An empty line is not delivered (Docker's awslogs driver skips them; PutLogEvents takes no empty
        # message, and its refusal would lose the whole batch). Stamped under the lock, never earlier than
        # the line before: the stdout and stderr pumps race, and PutLogEvents refuses a batch that is not in
        # chronological order.
        if not text:
            return
        with self.lock:
            self.last = max(self.last, int(time.time() * 1000))
            self.events.append({"timestamp": self.last, "message": text})

    def take(self) -> list:
        with self.lock:
            out, self.events = self.events, []
        return out


@dataclass
class Host:
    index: int  # 1-based: algo-<index>
    dir: Path
    log: LogStream | None = None
    proc: subprocess.Popen | None = None
    code: int | None = None  # the script's exit code
    failure: str | None = None  # FailureReason when this host failed on its own
    done: bool = False

    @property
    def name(self) -> str:
        return f"algo-{self.index}"

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)


class Job:
    def __init__(self, account: str, region: str, request: dict, fake):
        self.account, self.region, self.request, self.fake = account, region, request, fake
        self.name = request["TrainingJobName"]
        self.arn = fake.arn
        self.role_arn = request["RoleArn"]
        rc = request["ResourceConfig"]
        self.instance_type, self.count = rc["InstanceType"], int(rc.get("InstanceCount", 1))
        self.spot = bool(request.get("EnableManagedSpotTraining"))
        sc = dict(request.get("StoppingCondition") or {})
        sc.setdefault("MaxRuntimeInSeconds", 86400)
        self.stopping_condition = sc
        self.hyperparameters = dict(request.get("HyperParameters") or {})
        self.hps = {k: _decode(v) for k, v in self.hyperparameters.items()}
        self.status, self.secondary = "InProgress", "Starting"
        self.transitions: list[dict] = []
        self.failure_reason: str | None = None
        self.creation_time = self.last_modified = fake.creation_time
        self.created = now()  # aware (moto's creation_time is naive): MaxWaitTimeInSeconds counts from it
        self.training_start: datetime | None = None
        self.training_end: datetime | None = None
        self.lock = threading.RLock()
        self.halt = threading.Event()  # stop or interrupt requested
        self.halt_reason: str | None = None  # "Stopped" | "MaxRuntimeExceeded" | "MaxWaitTimeExceeded" | "Interrupted"
        self.interrupted_ack = threading.Event()
        self.hosts: list[Host] = []
        self.attempt = 0
        self.tag = f"sagemaker-{account}-{region}-{self.name}"
        self.root = CONFIG.data_dir / "sagemaker" / region / self.name
        self._uploaded: dict[str, tuple[int, int]] = {}
        self._clients: dict[str, object] = {}
        self._transition("Starting", MESSAGES["Starting"][0])
        self.thread = threading.Thread(target=self._main, name=f"sagemaker-{self.name}", daemon=True)

    # --- state --------------------------------------------------------------

    def _transition(self, status: str, message: str) -> None:
        with self.lock:
            t = now()
            if self.transitions and self.transitions[-1]["Status"] == status:
                self.transitions[-1]["StatusMessage"] = message
            else:
                if self.transitions and "EndTime" not in self.transitions[-1]:
                    self.transitions[-1]["EndTime"] = t
                self.transitions.append({"Status": status, "StartTime": t, "StatusMessage": message})
            self.secondary = status
            self.last_modified = t
            self._sync_fake()

    def _finish(self, status: str, secondary: str, message: str | None = None) -> None:
        with self.lock:
            self.training_end = self.training_end or now()
            self._transition(secondary, message or MESSAGES[secondary][0])
            self.transitions[-1]["EndTime"] = self.transitions[-1]["StartTime"]
            self.status = status
            self._sync_fake()

    def _sync_fake(self) -> None:
        f = self.fake
        f.training_job_status, f.secondary_status = self.status, self.secondary
        f.last_modified_time, f.training_end_time = self.last_modified, self.training_end

    def live(self) -> bool:
        return self.status in ("InProgress", "Stopping")

    def s3_output(self) -> str:
        return self.request["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{self.name}/output"

    def times(self) -> tuple[int | None, int | None]:
        if not (self.training_start and self.training_end):
            return None, None
        seconds = max(1, math.ceil((self.training_end - self.training_start).total_seconds()))
        if not self.spot:
            return seconds, seconds
        from .spot_prices import spot_fraction

        return seconds, max(1, round(seconds * spot_fraction(self.region + "a", self.instance_type[3:])))

    def describe(self) -> dict:
        r = self.request
        with self.lock:
            out = {
                "TrainingJobName": self.name,
                "TrainingJobArn": self.arn,
                "ModelArtifacts": {"S3ModelArtifacts": f"{self.s3_output()}/model.tar.gz"},
                "TrainingJobStatus": self.status,
                "SecondaryStatus": self.secondary,
                "HyperParameters": self.hyperparameters,
                "AlgorithmSpecification": {
                    "TrainingInputMode": "File",
                    "EnableSageMakerMetricsTimeSeries": False,
                    **r["AlgorithmSpecification"],
                },
                "RoleArn": self.role_arn,
                "InputDataConfig": r.get("InputDataConfig") or [],
                "OutputDataConfig": r["OutputDataConfig"],
                "ResourceConfig": r["ResourceConfig"],
                "StoppingCondition": self.stopping_condition,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified,
                "SecondaryStatusTransitions": [dict(t) for t in self.transitions],
                "EnableNetworkIsolation": bool(r.get("EnableNetworkIsolation")),
                "EnableInterContainerTrafficEncryption": bool(r.get("EnableInterContainerTrafficEncryption")),
                "EnableManagedSpotTraining": self.spot,
            }
            for key in ("VpcConfig", "CheckpointConfig", "Environment", "RetryStrategy", "DebugHookConfig"):
                if r.get(key):
                    out[key] = r[key]
            if self.failure_reason:
                out["FailureReason"] = self.failure_reason
            if self.training_start:
                out["TrainingStartTime"] = self.training_start
            if self.training_end:
                out["TrainingEndTime"] = self.training_end
            training, billable = self.times()
            if training is not None:
                out["TrainingTimeInSeconds"] = training
                out["BillableTimeInSeconds"] = billable
            return out

    # --- requests from the API ---------------------------------------------------

    def request_stop(self, reason: str = "Stopped") -> None:
        with self.lock:
            if not self.live() or self.status == "Stopping":
                return
            self.status = "Stopping"
            self.halt_reason = reason
            self._transition("Stopping", MESSAGES["Stopping"][0])
        self.halt.set()
        self._signal_hosts(signal.SIGTERM)
        threading.Thread(target=self._kill_after_grace, daemon=True).start()

    def request_interrupt(self) -> None:
        with self.lock:
            if not self.spot:
                raise ValueError(f"training job {self.name} is not a managed spot training job")
            if self.secondary != "Training" or self.status != "InProgress":
                raise ValueError(f"training job {self.name} is {self.status}/{self.secondary}, not Training")
            self.halt_reason = "Interrupted"
            self.interrupted_ack.clear()
        self.halt.set()
        self._signal_hosts(signal.SIGKILL)
        if not self.interrupted_ack.wait(30):
            raise ValueError(f"training job {self.name} did not acknowledge the interruption")

    def _signal_hosts(self, sig: int) -> None:
        for host in list(self.hosts):
            if host.proc is not None and host.proc.returncode is None:
                try:
                    os.killpg(host.proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def _kill_after_grace(self) -> None:
        deadline = time.time() + STOP_GRACE
        while time.time() < deadline:
            if all(h.done or h.proc is None or h.proc.poll() is not None for h in self.hosts):
                return
            time.sleep(0.2)
        self._signal_hosts(signal.SIGKILL)
        procs.kill_tagged(self.tag)

    def kill(self) -> None:
        """Reset / server exit: everything dies now, nothing is uploaded."""
        self.halt_reason = "Reset"
        self.halt.set()
        self._signal_hosts(signal.SIGKILL)
        procs.kill_tagged(self.tag)

    # --- AWS clients as the job's principal ---------------------------------------

    def client(self, service: str):
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            self._clients[service] = boto3.client(
                service,
                region_name=self.region,
                endpoint_url=CONFIG.endpoint,
                aws_access_key_id=job_key(self.name),
                aws_secret_access_key="sandbox",
                config=Config(user_agent_extra=PLATFORM_AGENT, retries={"max_attempts": 2}),
            )
        return self._clients[service]

    # --- the run ----------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self.halt.wait(seconds):
            raise _Halt

    def _check(self) -> None:
        if self.halt.is_set():
            raise _Halt

    def _main(self) -> None:
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - a sandbox bug must not leave the job InProgress
            if self.halt_reason == "Reset":
                return
            with self.lock:
                self.failure_reason = f"InternalServerError: the sandbox failed to run the job: {e!r}"[:FAILURE_MAX]
            self._finish("Failed", "Failed")
        finally:
            procs.kill_tagged(self.tag)

    def _run(self) -> None:
        try:
            self._sleep(delay())
            self._transition("Starting", MESSAGES["Starting"][1])
            self._sleep(delay())
            self._transition("Starting", MESSAGES["Starting"][2])
            self._sleep(delay())
            with self.lock:
                self.training_start = now()
            self._transition("Downloading", MESSAGES["Downloading"][0])
        except _Halt:
            return self._ended_early()
        while True:
            outcome = self._attempt()
            if outcome != "Interrupted":
                return
            try:
                self._transition("Interrupted", MESSAGES["Interrupted"][0])
                self.interrupted_ack.set()
                with self.lock:
                    self.halt.clear()
                    self.halt_reason = None
                self._sleep(delay())
                self._transition("Restarting", MESSAGES["Restarting"][0])
                self._sleep(delay())
            except _Halt:
                return self._ended_early()

    def _ended_early(self) -> None:
        """Stopped (or reset) before the script ran: nothing to upload."""
        if self.halt_reason == "Reset":
            return
        reason = self.halt_reason or "Stopped"
        self._finish("Stopped", reason if reason != "Interrupted" else "Stopped")

    def _attempt(self) -> str:
        """One run of the hosts: "Completed", "Failed", "Stopped", "Interrupted" (or "Reset")."""
        self.attempt += 1
        epoch = int(time.time())
        if self.attempt > 1:  # new instances: new log streams, empty /opt/ml
            epoch = max(epoch, int(self.hosts[0].log.name.rsplit("-", 1)[1]) + 1) if self.hosts else epoch
        self.hosts = [Host(i, self.root / f"algo-{i}") for i in range(1, self.count + 1)]
        try:
            for host in self.hosts:
                shutil.rmtree(host.dir, ignore_errors=True)
                for sub in ("model", "output/data", "output/intermediate", "input/config", "code", "checkpoints"):
                    host.path(*sub.split("/")).mkdir(parents=True, exist_ok=True)
                host.log = LogStream(f"{self.name}/{host.name}-{epoch}")
            self._start_logs()
            self._download_inputs()
            self._restore_checkpoints()
            self._check()
            if self.attempt == 1:
                self._transition("Downloading", MESSAGES["Downloading"][1])
                self._sleep(delay())
            self._transition("Training", MESSAGES["Training"][0])
        except _Halt:
            self._stop_logs()
            if self.halt_reason == "Interrupted":
                return "Interrupted"
            self._ended_early()
            return self.halt_reason or "Stopped"
        except AlgorithmFailure as e:
            with self.lock:
                self.failure_reason = e.reason[:FAILURE_MAX]
            self._stop_logs()
            self._finish("Failed", "Failed")
            return "Failed"
        master_port = _free_port()
        threads = [
            threading.Thread(target=self._run_host, args=(h, master_port), daemon=True, name=f"{self.name}-{h.name}")
            for h in self.hosts
        ]
        for t in threads:
            t.start()
        sync = threading.Thread(target=self._checkpoint_loop, daemon=True)
        sync.start()
        failed: Host | None = None
        while any(t.is_alive() for t in threads):
            time.sleep(0.1)
            if failed is None:
                failed = next((h for h in self.hosts if h.failure), None)
                if failed is not None and not self.halt.is_set():
                    self._signal_hosts(signal.SIGKILL)  # one host failed: the job fails, the others stop
                    self.halt.set()
                    self.halt_reason = self.halt_reason or "Failed"
            self._check_limits()
        for t in threads:
            t.join()
        failed = failed or next((h for h in self.hosts if h.failure), None)
        reason = self.halt_reason
        self._sync_checkpoints()
        if reason == "Reset":
            return "Reset"
        if reason == "Interrupted":
            self._stop_logs()
            return "Interrupted"
        if failed is not None and reason in (None, "Failed"):
            with self.lock:
                self.failure_reason = failed.failure[:FAILURE_MAX]
            self._stop_logs()
            self._finish("Failed", "Failed")
            return "Failed"
        if reason in ("Stopped", "MaxRuntimeExceeded", "MaxWaitTimeExceeded"):
            self._upload_artifacts()
            self._stop_logs()
            self._finish("Stopped", reason)
            return "Stopped"
        self._transition("Uploading", MESSAGES["Uploading"][0])
        try:
            self._sleep(delay())
        except _Halt:
            pass  # stopping while uploading: the upload still happens
        self._upload_artifacts()
        self._stop_logs()
        if self.halt_reason in ("Stopped", "MaxRuntimeExceeded", "MaxWaitTimeExceeded"):
            self._finish("Stopped", self.halt_reason)
            return "Stopped"
        self._finish("Completed", "Completed")
        return "Completed"

    def _check_limits(self) -> None:
        if self.halt.is_set():
            return
        elapsed = (now() - self.training_start).total_seconds() if self.training_start else 0
        if elapsed > float(self.stopping_condition["MaxRuntimeInSeconds"]):
            self.request_stop("MaxRuntimeExceeded")
        wait = self.stopping_condition.get("MaxWaitTimeInSeconds")
        if self.spot and wait and (now() - self.created).total_seconds() > float(wait):
            self.request_stop("MaxWaitTimeExceeded")

    # --- logs -----------------------------------------------------------------------

    def _start_logs(self) -> None:
        logs = self.client("logs")
        try:
            logs.create_log_group(logGroupName=LOG_GROUP)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        for host in self.hosts:
            logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=host.log.name)
        self._log_stop = threading.Event()
        self._log_thread = threading.Thread(target=self._log_pump, daemon=True)
        self._log_thread.start()

    def _log_pump(self) -> None:
        while not self._log_stop.wait(0.25):
            self._flush_logs()
        self._flush_logs()

    def _flush_logs(self) -> None:
        logs = self.client("logs")
        for host in list(self.hosts):
            events = host.log.take() if host.log else []
            for start in range(0, len(events), 5000):
                try:
                    logs.put_log_events(
                        logGroupName=LOG_GROUP, logStreamName=host.log.name, logEvents=events[start : start + 5000]
                    )
                except Exception:  # noqa: BLE001 - the sandbox going down
                    return

    def _stop_logs(self) -> None:
        if getattr(self, "_log_thread", None) is not None:
            self._log_stop.set()
            self._log_thread.join(timeout=10)
            self._log_thread = None

    def _toolkit(self, host: Host, level: str, message: str) -> None:
        stamp = now().strftime("%Y-%m-%d %H:%M:%S,") + f"{now().microsecond // 1000:03d}"
        for line in message.splitlines() or [""]:
            host.log.line(f"{stamp} sagemaker-training-toolkit {level:<8} {line}")

    # --- data in and out ------------------------------------------------------------------

    def _list(self, bucket: str, prefix: str) -> list[dict]:
        s3 = self.client("s3")
        found = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend(page.get("Contents", []))
        return found

    def _download_inputs(self) -> None:
        for channel in self.request.get("InputDataConfig") or []:
            name = channel["ChannelName"]
            source = channel.get("DataSource", {}).get("S3DataSource")
            if not source:
                raise AlgorithmFailure(f"ClientError: the sandbox emulates S3 data sources only (channel {name})")
            kind = source.get("S3DataType", "S3Prefix")
            if kind == "S3Prefix":
                objects = self._prefix_objects(source["S3Uri"])
            elif kind == "ManifestFile":
                objects = self._manifest_objects(source["S3Uri"])
            else:
                raise AlgorithmFailure(
                    f"ClientError: the sandbox emulates S3Prefix and ManifestFile channels only "
                    f"({kind}, channel {name})"
                )
            sharded = source.get("S3DataDistributionType") == "ShardedByS3Key"
            for i, (bucket, key, relative) in enumerate(objects):
                targets = [self.hosts[i % len(self.hosts)]] if sharded else self.hosts
                body = self._get_input(bucket, key)
                for host in targets:
                    path = host.path("input", "data", name, relative)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(body)
            self._check()

    def _prefix_objects(self, uri: str) -> list[tuple[str, str, str]]:
        """An S3Prefix channel: every object under the prefix, at its key after the prefix."""
        bucket, prefix = _split_s3(uri)
        try:
            objects = [o for o in self._list(bucket, prefix) if not o["Key"].endswith("/")]
        except Exception:  # noqa: BLE001 - missing bucket, refused access
            objects = []
        if not objects:
            raise AlgorithmFailure(
                f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. Please '
                f"ensure that the bucket exists in the selected region ({self.region}), that objects exist "
                f'under that S3 prefix, and that the role "{self.role_arn}" has "s3:ListBucket" permissions on '
                f'bucket "{bucket}".'
            )
        return [
            (bucket, o["Key"], o["Key"][len(prefix) :].lstrip("/") or o["Key"].rsplit("/", 1)[-1])
            for o in sorted(objects, key=lambda o: o["Key"])
        ]

    def _manifest_objects(self, uri: str) -> list[tuple[str, str, str]]:
        """A ManifestFile channel (AWS's S3DataSource): a JSON array, `{"prefix": "s3://bucket/p/"}` then
        the suffixes; each object is the prefix followed by a suffix and lands at the suffix. The manifest
        and every object are read with the job's role."""
        bucket, key = _split_s3(uri)
        body = self._get_input(bucket, key)
        try:
            items = json.loads(body)
            prefix = items[0]["prefix"]
            suffixes = items[1:]
            data_bucket, data_prefix = _split_s3(prefix)
            if not data_bucket or not suffixes or not all(isinstance(x, str) and x for x in suffixes):
                raise ValueError("no suffix")
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise AlgorithmFailure(
                f"ClientError: Data download failed:the manifest file {uri} is not a JSON array of a prefix "
                f"followed by suffixes ({e})"
            ) from None
        return [(data_bucket, data_prefix + suffix, suffix) for suffix in suffixes]

    def _get_input(self, bucket: str, key: str) -> bytes:
        """One input object, read as the job's role; a refusal or a missing object fails the job."""
        from botocore.exceptions import ClientError

        try:
            return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 403
            words = {403: "Forbidden", 404: "Not Found"}.get(status, "Error")
            raise AlgorithmFailure(
                f"ClientError: Data download failed:Failed to download data. {status} {words} ({status}): {words}"
            ) from None

    def _checkpoint_local(self, host: Host) -> Path:
        return host.path("checkpoints")

    def _restore_checkpoints(self) -> None:
        cfg = self.request.get("CheckpointConfig")
        if not cfg:
            return
        bucket, prefix = _split_s3(cfg["S3Uri"])
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        s3 = self.client("s3")
        try:
            objects = self._list(bucket, prefix)
        except Exception:  # noqa: BLE001
            objects = []
        for obj in objects:
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            for host in self.hosts:
                path = self._checkpoint_local(host) / obj["Key"][len(prefix) :]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
                stat = path.stat()
                self._uploaded[f"{host.name}:{obj['Key']}"] = (stat.st_size, stat.st_mtime_ns)

    def _sync_checkpoints(self) -> None:
        """Upload new or changed files of every host's checkpoint dir (nothing is deleted)."""
        cfg = self.request.get("CheckpointConfig")
        if not cfg:
            return
        bucket, prefix = _split_s3(cfg["S3Uri"])
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        s3 = self.client("s3")
        for host in list(self.hosts):
            local = self._checkpoint_local(host)
            for path in sorted(p for p in local.rglob("*") if p.is_file()) if local.exists() else []:
                key = prefix + path.relative_to(local).as_posix()
                try:
                    stat = path.stat()
                    seen = (stat.st_size, stat.st_mtime_ns)
                    if self._uploaded.get(f"{host.name}:{key}") == seen:
                        continue
                    s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
                    self._uploaded[f"{host.name}:{key}"] = seen
                except (OSError, ValueError):
                    continue  # being written or gone
                except Exception:  # noqa: BLE001 - S3 refused: retried next round
                    continue

    def _checkpoint_loop(self) -> None:
        while any(not h.done for h in self.hosts):
            time.sleep(CHECKPOINT_SYNC)
            if self.halt_reason == "Interrupted":
                return  # the instances are gone; what was uploaded is what survives
            self._sync_checkpoints()

    def _upload_artifacts(self) -> None:
        """model.tar.gz (algo-1's model dir, always) and output.tar.gz (its output/data, when not empty)."""
        bucket, key = _split_s3(self.s3_output())
        s3 = self.client("s3")
        master = self.hosts[0]
        for name, folder, always in (("model.tar.gz", "model", True), ("output.tar.gz", "output/data", False)):
            local = master.path(*folder.split("/"))
            files = sorted(p for p in local.rglob("*") if p.is_file()) if local.exists() else []
            if not files and not always:
                continue
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                for path in files:
                    tar.add(path, arcname=path.relative_to(local).as_posix())
            s3.put_object(Bucket=bucket, Key=f"{key}/{name}".lstrip("/"), Body=buf.getvalue())

    # --- one host --------------------------------------------------------------------------

    def _torch_distributed(self) -> bool:
        return any(self.hps.get(flag) in (True, "true", "True") for flag in TORCH_FLAGS)

    def _user_hps(self) -> dict:
        return {k: v for k, v in self.hps.items() if not k.startswith("sagemaker_")}

    def _host_env(self, host: Host, master_port: int) -> dict[str, str]:
        from moto.ec2.models.instance_types import INSTANCE_TYPES

        hosts = [h.name for h in self.hosts]
        channels = sorted(c["ChannelName"] for c in self.request.get("InputDataConfig") or [])
        channel_dirs = {c: str(host.path("input", "data", c)) for c in channels}
        cpus = int(INSTANCE_TYPES.get(self.instance_type[3:], {}).get("VCpuInfo", {}).get("DefaultVCpus", 2))
        resource_config = {
            "current_host": host.name,
            "current_instance_type": self.instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": hosts,
            "instance_groups": [
                {"instance_group_name": "homogeneousCluster", "instance_type": self.instance_type, "hosts": hosts}
            ],
            "network_interface_name": "eth0",
        }
        input_config = {
            c["ChannelName"]: {
                "TrainingInputMode": "File",
                "S3DistributionType": c.get("DataSource", {})
                .get("S3DataSource", {})
                .get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": c.get("RecordWrapperType", "None"),
            }
            for c in self.request.get("InputDataConfig") or []
        }
        config = host.path("input", "config")
        (config / "hyperparameters.json").write_text(json.dumps(self.hyperparameters))
        (config / "resourceconfig.json").write_text(json.dumps(resource_config))
        (config / "inputdataconfig.json").write_text(json.dumps(input_config))
        framework_params = {k: v for k, v in self.hps.items() if k.startswith("sagemaker_")}
        for k in ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_container_log_level"):
            framework_params.pop(k, None)
        user_hps = self._user_hps()
        entry = str(self.hps.get("sagemaker_program") or "")
        training_env = {
            "additional_framework_parameters": framework_params,
            "channel_input_dirs": channel_dirs,
            "current_host": host.name,
            "current_instance_group": "homogeneousCluster",
            "current_instance_type": self.instance_type,
            "distribution_hosts": hosts if self._torch_distributed() else [],
            "framework_module": "sagemaker_pytorch_container.training:main",
            "hosts": hosts,
            "hyperparameters": user_hps,
            "input_config_dir": str(config),
            "input_data_config": input_config,
            "input_dir": str(host.path("input")),
            "instance_groups": ["homogeneousCluster"],
            "is_master": host.index == 1,
            "job_name": self.name,
            "log_level": self.hps.get("sagemaker_container_log_level", 20),
            "master_hostname": hosts[0],
            "model_dir": str(host.path("model")),
            "module_dir": str(self.hps.get("sagemaker_submit_directory") or ""),
            "module_name": entry.rsplit(".", 1)[0],
            "network_interface_name": "eth0",
            "num_cpus": cpus,
            "num_gpus": 0,
            "num_neurons": 0,
            "output_data_dir": str(host.path("output", "data")),
            "output_dir": str(host.path("output")),
            "output_intermediate_dir": str(host.path("output", "intermediate")),
            "resource_config": resource_config,
            "user_entry_point": entry,
        }
        sm = {
            "hosts": hosts,
            "network_interface_name": "eth0",
            "hps": user_hps,
            "user_entry_point": entry,
            "framework_params": framework_params,
            "resource_config": resource_config,
            "input_data_config": input_config,
            "output_data_dir": training_env["output_data_dir"],
            "channels": channels,
            "current_host": host.name,
            "current_instance_type": self.instance_type,
            "current_instance_group": "homogeneousCluster",
            "current_instance_group_hosts": hosts,
            "instance_groups": ["homogeneousCluster"],
            "distribution_instance_groups": ["homogeneousCluster"] if self._torch_distributed() else [],
            "is_hetero": False,
            "module_name": training_env["module_name"],
            "log_level": training_env["log_level"],
            "framework_module": training_env["framework_module"],
            "input_dir": training_env["input_dir"],
            "input_config_dir": training_env["input_config_dir"],
            "output_dir": training_env["output_dir"],
            "num_cpus": cpus,
            "num_gpus": 0,
            "num_neurons": 0,
            "model_dir": training_env["model_dir"],
            "module_dir": training_env["module_dir"],
            "training_env": training_env,
            "user_args": _cmd_args(user_hps),
            "output_intermediate_dir": training_env["output_intermediate_dir"],
        }
        sm.update({f"channel_{c}": p for c, p in channel_dirs.items()})
        sm.update({f"hp_{k}": v for k, v in user_hps.items()})
        env = child_env(self.region, job_key(self.name))
        # the job's own variables; /opt/ml/... values point at this host's directory
        for k, v in (self.request.get("Environment") or {}).items():
            env[k] = str(host.dir) + v[len("/opt/ml") :] if str(v).startswith("/opt/ml") else str(v)
        env.update({f"SM_{k.upper()}": _env_value(v) for k, v in sm.items()})
        venv = host.path("venv")
        env.update(
            HOME=str(host.path("home")),
            VIRTUAL_ENV=str(venv),
            PATH=f"{venv / 'bin'}:{env['PATH']}",
            TRAINING_JOB_NAME=self.name,
            TRAINING_JOB_ARN=self.arn,
            SAGEMAKER_REGION=self.region,
            CURRENT_HOST=host.name,
            SAGEMAKER_TRAINING_MODULE="sagemaker_pytorch_container.training:main",
            EASYTDV_SANDBOX_SAGEMAKER_HOST=host.name,
            UV_CACHE_DIR=str(CONFIG.data_dir / "uv-cache"),
            UV_LINK_MODE="copy",
            PIP_CACHE_DIR=str(CONFIG.data_dir / "pip-cache"),
        )
        if self._torch_distributed():
            rank = host.index - 1
            env.update(
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=str(master_port),
                WORLD_SIZE=str(self.count),
                RANK=str(rank),
                LOCAL_RANK="0",
                GROUP_RANK=str(rank),
                ROLE_RANK=str(rank),
                LOCAL_WORLD_SIZE="1",
                ROLE_WORLD_SIZE=str(self.count),
                TORCHELASTIC_RUN_ID="none",
                TORCHELASTIC_RESTART_COUNT="0",
                TORCHELASTIC_MAX_RESTARTS="0",
                NCCL_SOCKET_IFNAME="eth0",
                NCCL_PROTO="simple",
            )
        host.path("home").mkdir(exist_ok=True)
        return env

    def _spawn(self, host: Host, args: list[str], env: dict, cwd: Path, stderr_lines: list | None = None) -> int:
        self._check()
        proc = procs.spawn(args, self.tag, env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        host.proc = proc

        def pump(stream, keep: list | None) -> None:
            for raw in iter(stream.readline, b""):
                text = raw.decode("utf-8", "replace").rstrip("\n")
                host.log.line(text)
                if keep is not None:
                    keep.append(text)
            stream.close()

        readers = [
            threading.Thread(target=pump, args=(proc.stdout, None), daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, stderr_lines), daemon=True),
        ]
        for r in readers:
            r.start()
        code = proc.wait()
        for r in readers:
            r.join(timeout=5)
        return code if code >= 0 else 128 - code

    def _fail(
        self, host: Host, error: str, code: int, stderr: list[str], command: str, extra: str | None = None
    ) -> None:
        start = next((i for i, line in enumerate(stderr) if any(e in line for e in PYTHON_ERRORS)), None)
        message = ""
        if start is not None:
            kept = []
            for line in stderr[start:]:
                item = line.strip(" :\n") + "\n"
                if item not in kept:
                    kept.append(item)
            message = "\n".join(dict.fromkeys(" ".join(kept).split("\n"))).strip()
        if extra is None and code == 137:
            extra = "OutOfMemory: Process killed by SIGKILL (signal 9)"
        text = f'{error}:\nExitCode {code}\nErrorMessage "{message}"\n'
        if extra:
            text += f'ExtraInfo "{extra}"\n'
        text += f'Command "{command}"'
        self._toolkit(host, "ERROR", "Reporting training FAILURE")
        self._toolkit(host, "ERROR", text)
        host.failure = f"AlgorithmError: {text}, exit code: 1"
        (host.path("output") / "failure").write_text(text)

    def _run_host(self, host: Host, master_port: int) -> None:
        try:
            self._host_steps(host, master_port)
        except _Halt:
            pass
        except Exception as e:  # noqa: BLE001 - setup failure (S3, venv): the job fails with it
            if not self.halt.is_set():
                host.failure = f"AlgorithmError: framework error: \n{type(e).__name__}: {e}, exit code: 1"
                host.log.line(f"{type(e).__name__}: {e}")
        finally:
            host.done = True

    def _host_steps(self, host: Host, master_port: int) -> None:
        env = self._host_env(host, master_port)
        code_dir = host.path("code")
        entry = str(self.hps.get("sagemaker_program") or "")
        submit = str(self.hps.get("sagemaker_submit_directory") or "")
        self._toolkit(host, "INFO", "Imported framework sagemaker_pytorch_container.training")
        self._toolkit(host, "INFO", "No GPUs detected (normal if no gpus installed)")
        if not entry:
            raise RuntimeError("the hyperparameter sagemaker_program (the entry point, e.g. train.py) is missing")
        if submit.startswith("s3://"):
            bucket, key = _split_s3(submit)
            data = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                tar.extractall(code_dir, filter="data")
        elif submit:
            raise RuntimeError(f"sagemaker_submit_directory must be an S3 URI of a tar.gz, not {submit!r}")
        self._make_venv(host, env)
        requirements = code_dir / "requirements.txt"
        if requirements.exists():
            self._toolkit(host, "INFO", "Installing dependencies from requirements.txt:")
            shown = f"{PYTHON_SHOWN} -m pip install -r requirements.txt"
            self._toolkit(host, "INFO", shown)
            lines: list[str] = []
            uv = venv_bin() / "uv"
            args = (
                [
                    str(uv),
                    "pip",
                    "install",
                    "--python",
                    str(host.path("venv", "bin", "python")),
                    "-r",
                    "requirements.txt",
                ]
                if uv.exists()
                else [str(host.path("venv", "bin", "python")), "-m", "pip", "install", "-r", "requirements.txt"]
            )
            code = self._spawn(host, args, env, code_dir, lines)
            if code != 0:
                self._check()
                return self._fail(host, "InstallRequirementsError", code, lines, shown)
        args = _cmd_args(self._user_hps())
        if entry.endswith(".py"):
            run = [str(host.path("venv", "bin", "python")), entry, *args]
            shown = " ".join([PYTHON_SHOWN, entry, *args])
        else:
            run = ["/bin/sh", "-c", " ".join([f"./{entry}", *args])]
            shown = " ".join(run)
        if self._torch_distributed():
            shown = " ".join(
                ["torchrun", "--nnodes", str(self.count), "--nproc_per_node", "1"]
                + (["--master_addr", "algo-1", "--master_port", "7777", "--node_rank", str(host.index - 1)])
                * (self.count > 1)
                + [entry, *args]
            )
        self._toolkit(host, "INFO", "Invoking user script")
        host.log.line("Training Env:")
        host.log.line(env["SM_TRAINING_ENV"])
        host.log.line("Invoking script with the following command:")
        host.log.line(shown)
        stderr: list[str] = []
        code = self._spawn(host, run, env, code_dir, stderr)
        host.code = code
        if self.halt.is_set():
            return
        if code != 0:
            return self._fail(host, "ExecuteUserScriptError", code, stderr, shown)
        self._toolkit(host, "INFO", "Reporting training SUCCESS")

    def _make_venv(self, host: Host, env: dict) -> None:
        """The container's Python: a venv that also sees the sandbox venv's packages (boto3, like the DLC)."""
        venv = host.path("venv")
        uv = venv_bin() / "uv"
        if uv.exists():
            args = [str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)]
        else:
            args = [sys.executable, "-m", "venv", str(venv)]
        quiet: list[str] = []
        code = self._spawn(host, args, env, host.dir, quiet)
        if code != 0:
            raise RuntimeError(f"could not create the job's Python environment: {' '.join(quiet)[-500:]}")
        base = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
        for site in venv.glob("lib/python*/site-packages"):
            (site / "easytdv_sandbox_base.pth").write_text(base + "\n")


def start(account: str, region: str, request: dict, fake) -> Job:
    job = Job(account, region, request, fake)
    JOBS[(account, region, job.name)] = job
    job.thread.start()
    return job


def reset() -> None:
    for job in list(JOBS.values()):
        job.kill()
    JOBS.clear()
    DELAY.clear()
    ROLE_PROPAGATION.clear()
    ROLES_REFUSED.clear()
