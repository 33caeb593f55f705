"""AWS's own latencies, for the sandbox (`run --latency aws[:SCALE]`, EASYTDV_SANDBOX_LATENCY).

Off by default (and in every test but its own): the sandbox then answers at once. On, each
operation takes about as long as on AWS, scaled by SCALE (1.0 = AWS's time; 0.1 = a ten
times faster sketch), and what AWS refuses while a new IAM role or instance profile
propagates is refused here too, in AWS's words, until it has.

Every figure is in FIGURES with where it comes from (tests/sandbox/README.md has the table):
revise a figure here, and nowhere else. The other modules only call the hooks below.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.responses import LambdaResponse
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.instances import InstanceState
from moto.ec2.responses.instances import InstanceResponse
from moto.iam.models import IAMBackend


@dataclass(frozen=True)
class Figure:
    seconds: float
    what: str
    source: str


IAM_EC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency"
CFN_LOG = "https://github.com/pgarbe/tatsu-hubot/issues/1"
FIGURES: dict[str, Figure] = {
    # IAM propagation (eventual consistency): a call that uses a new role or profile too early is refused.
    "iam.role": Figure(
        10.0,
        "a new role can be assumed by Lambda or SageMaker (before: CreateFunction / CreateTrainingJob refused)",
        "https://github.com/aws/aws-cli/issues/7700 (sleep 5 s enough), "
        "https://github.com/aws/aws-sdk-js/issues/4408 (5-20 s), https://github.com/aws/chalice/pull/172 "
        f"(15 s not always enough), {IAM_EC}",
    ),
    "iam.instance_profile": Figure(
        10.0,
        "a new instance profile (or a role just added to it) is usable by RunInstances (before: refused)",
        "https://github.com/aws/aws-sdk-js-v3/issues/5253, https://github.com/aws/karpenter-provider-aws/pull/5018, "
        f"{IAM_EC} (seconds; no published figure: estimate)",
    ),
    # CloudFormation: the stack's own start, then each resource (along the longest dependency chain).
    "cfn.stack": Figure(5.0, "CreateStack to its first resource", CFN_LOG),
    "cfn.AWS::IAM::Role": Figure(12.0, "an IAM role (CREATE_IN_PROGRESS to CREATE_COMPLETE)", CFN_LOG),
    "cfn.AWS::IAM::InstanceProfile": Figure(
        120.0,
        "an instance profile: CloudFormation waits for it to propagate",
        f"{CFN_LOG} (17:41:18 to 17:43:18), https://github.com/hashicorp/terraform/issues/15341",
    ),
    "cfn.AWS::Lambda::Function": Figure(5.0, "a Lambda function (until Active)", "estimate"),
    "cfn.AWS::EC2::SecurityGroup": Figure(5.0, "a security group", "estimate"),
    "cfn.AWS::Logs::LogGroup": Figure(2.0, "a log group", "estimate"),
    "cfn.other": Figure(5.0, "any other resource type", "estimate"),
    "cfn.delete": Figure(3.0, "DeleteStack: the stack, then each resource (reverse order)", "estimate"),
    # Lambda
    "lambda.create": Figure(
        1.0,
        "CreateFunction to State Active (Invoke before: ResourceConflictException)",
        "https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html (estimate)",
    ),
    "lambda.cold_start": Figure(
        0.25,
        "a cold start's platform part (the sandbox really starts Python and imports the handler)",
        "https://aws.amazon.com/blogs/compute/operating-lambda-performance-optimization-part-1/ "
        "(under 100 ms to over 1 s)",
    ),
    # EC2
    "ec2.running": Figure(
        16.5,
        "RunInstances to `running` (pending)",
        "https://github.com/brevdev/ec2-coldboot-research (pending to running 16.4-16.6 s, t3.medium and others)",
    ),
    "ec2.boot.al2023": Figure(
        15.0,
        "`running` to the SSM agent online and user data started, Amazon Linux 2023",
        "http://www.daemonology.net/blog/2021-08-12-EC2-boot-time-benchmarking.html (running to SSH 17-23 s), "
        "https://www.martysweet.co.uk/ec2-launch-times/ (AL2023 the fastest to boot) (estimate)",
    ),
    "ec2.boot.dlami": Figure(
        60.0,
        "`running` to the SSM agent online, Deep Learning AMI (a large root volume read lazily from its snapshot)",
        "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-initialize.html, "
        "https://github.com/CIROH-UA/ngen-datastream/pull/362 (SSM registration sometimes over 120 s) (estimate)",
    ),
    # SSM
    "ssm.dispatch": Figure(
        1.0, "SendCommand to the command running on the instance", "estimate (no published figure found)"
    ),
    # S3
    "s3.first_byte": Figure(
        0.1,
        "each S3 request (first byte)",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance-design-patterns.html "
        "(100-200 ms)",
    ),
    "s3.mbps.region": Figure(
        90.0,
        "MB/s of one S3 connection from inside the region (machine, Lambda, training job)",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance-guidelines.html "
        "(about 85-90 MB/s per connection)",
    ),
    "s3.mbps.internet": Figure(6.0, "MB/s of one S3 connection from the user's computer (about 50 Mbit/s)", "estimate"),
    # SageMaker
    "sagemaker.phase": Figure(
        16.0,
        "each training-job phase step (Starting x3, Downloading, Uploading): about 49 s from Starting to Downloading",
        "https://github.com/NVIDIA-Merlin/Transformers4Rec/issues/794 (22:15:03 Starting, 22:15:52 Downloading)",
    ),
}


class Model:
    scale: float = 0.0  # 0: off


MODEL = Model()
SPEC = re.compile(r"^aws(?::(\d+(?:\.\d+)?|\.\d+))?$")


def parse(spec: str | None) -> float:
    """`aws` -> 1.0, `aws:0.1` -> 0.1, `` / `off` / `0` -> 0.0 (off)."""
    spec = (spec or "").strip().lower()
    if spec in ("", "off", "0", "none"):
        return 0.0
    found = SPEC.match(spec)
    if not found:
        raise ValueError(f"--latency {spec!r}: expected 'aws' or 'aws:SCALE' (e.g. aws:0.1), or 'off'")
    scale = float(found.group(1) or 1.0)
    if not 0 < scale <= 10:
        raise ValueError(f"--latency {spec!r}: the scale must be above 0 and at most 10")
    return scale


def configure(scale: float) -> None:
    MODEL.scale = float(scale)


def on() -> bool:
    return MODEL.scale > 0


def seconds(key: str) -> float:
    return FIGURES[key].seconds * MODEL.scale if on() else 0.0


def _later(delay: float, fn, *args) -> None:
    timer = threading.Timer(delay, fn, args)
    timer.daemon = True
    timer.start()


def _age(when: datetime | None) -> float:
    if when is None:
        return float("inf")
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds()


# --- IAM propagation ------------------------------------------------------------------------
_PROFILE_CHANGED: dict[str, datetime] = {}  # instance profile ARN -> when a role was last added


def role_propagating(role) -> bool:
    """Is this role too new for a service to assume (SageMaker's hook uses this too)?"""
    return on() and _age(getattr(role, "create_date", None)) < seconds("iam.role")


def _profile_propagating(profile) -> bool:
    changed = max(
        (d if d.tzinfo else d.replace(tzinfo=UTC))
        for d in [profile.create_date, _PROFILE_CHANGED.get(profile.arn, profile.create_date)]
    )
    return on() and _age(changed) < seconds("iam.instance_profile")


_ORIG: dict = {}  # what install() wrapped (taken then: other modules wrap the same methods)


def _add_role_to_instance_profile(self, profile_name: str, role_name: str) -> None:
    _ORIG["add_role"](self, profile_name, role_name)
    profile = self.get_instance_profile(profile_name)
    _PROFILE_CHANGED[profile.arn] = datetime.now(UTC)


class _InvalidProfile(EC2ClientError):
    def __init__(self, value: str, by: str):
        shown = "name" if by == "name" else "arn"
        what = "Invalid IAM Instance Profile name" if by == "name" else "Invalid IAM Instance Profile ARN"
        message = f"Value ({value}) for parameter iamInstanceProfile.{shown} is invalid. {what}"
        super().__init__("InvalidParameterValue", message)


def _run_instances(self):
    if on():
        from moto.iam.models import iam_backends

        iam = iam_backends[self.current_account][self.partition]
        name, arn = self._get_param("IamInstanceProfile.Name"), self._get_param("IamInstanceProfile.Arn")
        profile = None
        try:
            profile = iam.get_instance_profile_by_arn(arn) if arn else iam.get_instance_profile(name) if name else None
        except Exception:  # noqa: BLE001 - unknown: moto answers as AWS does
            profile = None
        if profile is not None and _profile_propagating(profile):
            raise _InvalidProfile(arn, "arn") if arn else _InvalidProfile(name, "name")
    return _ORIG["run_instances"](self)


# --- Lambda -----------------------------------------------------------------------------------
class _ResourceConflict(LambdaClientError):
    code = 409

    def __init__(self, message: str):
        super().__init__("ResourceConflictException", message)


_WARM: dict[str, float] = {}  # function ARN -> last invocation end (an environment kept warm)
WARM_FOR = 300.0  # Lambda recycles an idle environment after some minutes (unspecified by AWS)


def _create_function(self):
    if on():
        from moto.iam.models import iam_backends

        role_arn = str(self.json_body.get("Role") or "")
        iam = iam_backends[self.current_account][self.partition]
        role = next((r for r in iam.roles.values() if r.arn == role_arn), None)
        if role is not None and role_propagating(role):
            raise InvalidParameterValueException("The role defined for the function cannot be assumed by Lambda.")
    answer = _ORIG["create_function"](self)
    if not on() or seconds("lambda.create") <= 0:
        return answer
    name = self.json_body["FunctionName"].rsplit(":", 1)[-1]
    fn = self.backend.get_function(name, None)
    fn.state = "Pending"

    def active() -> None:
        if fn.state == "Pending":
            fn.state = "Active"

    _later(seconds("lambda.create"), active)
    status, headers, body = answer
    config = json.loads(body)
    config.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
    return status, headers, json.dumps(config)


def before_invoke(fn) -> None:
    """An Invoke: refused while the function is Pending; a cold start when no environment is warm."""
    if not on():
        return
    if getattr(fn, "state", "Active") == "Pending":
        raise _ResourceConflict(
            "The operation cannot be performed at this time. The function is currently in the following state: Pending"
        )
    last = _WARM.get(fn.function_arn)
    if last is None or time.monotonic() - last > WARM_FOR * MODEL.scale:
        time.sleep(seconds("lambda.cold_start"))
    _WARM[fn.function_arn] = time.monotonic()


# --- CloudFormation ---------------------------------------------------------------------------
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _refs(node, names: set[str]) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str) and value in names:
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) and value else str(value).split(".", 1)[0]
                if target in names:
                    found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) and value else value
                if isinstance(text, str):
                    found |= {n for n in _SUB_NAME.findall(text) if n in names}
                if isinstance(value, list) and len(value) > 1:
                    found |= _refs(value[1], names)
            else:
                found |= _refs(value, names)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item, names)
    return found


def _created(stack) -> dict[str, dict]:
    resources = (getattr(stack, "template_dict", None) or {}).get("Resources") or {}
    parsed = getattr(getattr(stack, "resource_map", None), "_parsed_resources", {}) or {}
    return {lid: body for lid, body in resources.items() if lid in parsed and isinstance(body, dict)}


def stack_seconds(stack, action: str) -> float:
    """How long CloudFormation takes for this stack: its start, then the longest chain of its
    resources (each depends on what it references or DependsOn); deletion per resource."""
    if not on():
        return 0.0
    resources = _created(stack)
    if action == "delete":
        return seconds("cfn.delete") * (1 + min(len(resources), 3))
    names = set(resources)
    finish: dict[str, float] = {}

    def done(lid: str, seen: frozenset = frozenset()) -> float:
        if lid in finish:
            return finish[lid]
        if lid in seen:
            return 0.0
        body = resources[lid]
        depends = body.get("DependsOn") or []
        deps = _refs(body.get("Properties") or {}, names) | ({depends} if isinstance(depends, str) else set(depends))
        start = max((done(d, seen | {lid}) for d in deps & names), default=0.0)
        kind = str(body.get("Type", ""))
        key = f"cfn.{kind}" if f"cfn.{kind}" in FIGURES else "cfn.other"
        finish[lid] = start + seconds(key)
        return finish[lid]

    return seconds("cfn.stack") + max((done(lid) for lid in resources), default=0.0)


# --- EC2 --------------------------------------------------------------------------------------
def _is_dlami(ec2_backend, image_id: str) -> bool:
    try:
        images = ec2_backend.describe_images(ami_ids=[image_id])
    except Exception:  # noqa: BLE001 - unknown image: the default boot
        return False
    return bool(images) and "deep learning" in str(images[0].name or "").lower()


def boot_seconds(ec2_backend, instance) -> tuple[float, float]:
    """(to `running`, then to the SSM agent online) for this instance's image."""
    boot = "ec2.boot.dlami" if _is_dlami(ec2_backend, instance.image_id) else "ec2.boot.al2023"
    return seconds("ec2.running"), seconds(boot)


def launch_later(ec2_backend, instance, launched) -> None:
    """Pending, then running after the model's time, then booted (launched(instance, region))."""
    to_running, to_online = boot_seconds(ec2_backend, instance)
    instance._state = InstanceState("pending", 0)
    region = ec2_backend.region_name

    def running() -> None:
        if instance._state.name == "pending":
            instance._state = InstanceState("running", 16)
            _later(to_online, booted)

    def booted() -> None:
        if instance._state.name == "running":
            launched(instance, region)

    _later(to_running, running)


# --- SSM, S3 ----------------------------------------------------------------------------------
def ssm_dispatch() -> None:
    time.sleep(seconds("ssm.dispatch"))


def s3_seconds(principal_name: str, request_bytes: int, response_bytes: int) -> float:
    if not on():
        return 0.0
    inside = principal_name.startswith(("instance:", "lambda:", "sagemaker:"))
    mbps = FIGURES["s3.mbps.region" if inside else "s3.mbps.internet"].seconds
    # (the transfer's time scales with the model too: a 0.1 sketch moves data ten times faster)
    return seconds("s3.first_byte") + (request_bytes + response_bytes) / (mbps * 1e6) * MODEL.scale


def s3_wait(principal_name: str, request_bytes: int, response_bytes: int) -> None:
    wait = s3_seconds(principal_name, request_bytes, response_bytes)
    if wait > 0:
        time.sleep(wait)


def reset() -> None:
    _WARM.clear()
    _PROFILE_CHANGED.clear()


def install() -> None:
    _ORIG.update(
        add_role=IAMBackend.add_role_to_instance_profile,
        run_instances=InstanceResponse.run_instances,
        create_function=LambdaResponse.create_function,
    )
    IAMBackend.add_role_to_instance_profile = _add_role_to_instance_profile
    InstanceResponse.run_instances = _run_instances
    LambdaResponse.create_function = _create_function
