"""easyTDV launcher Lambda: starts the run's one training instance.

Invoked synchronously (RequestResponse) by the easyTDV core after the run's
CloudFormation stack is complete, with the event

    {"launch": N,                                   # the run's N-th deliberate launch (default 1)
     "subnets": [{"subnet_id": "subnet-...", "zone": "eu-west-3a"}, ...]}   # optional

Everything else comes from the function's environment, set by
templates/stack.yaml:

    RUN_ID, AMI_ID, INSTANCE_TYPE, DISK_SIZE_GB, INSTANCE_PROFILE_ARN,
    SECURITY_GROUP_ID, MAX_RUNTIME_HOURS, BUCKET, RUN_PREFIX, BUCKET_OWNER

The base's launcher (templates/base.yaml: one function for every run of a
region, issue 22) has only INSTANCE_PROFILE_ARN, SECURITY_GROUP_ID and
BUCKET_OWNER in its environment; the run comes in the event, each value
checked as strictly as the per-run stack's parameters:

    {"run": {"run_id", "ami_id", "instance_type", "disk_size_gb",
             "max_runtime_hours", "bucket", "run_prefix", "spot"}, "launch": N, "subnets": [...]}

("spot": true asks for a spot instance first, in each zone in order; when
none can be had (SPOT_FALLBACK_CODES) it launches on demand, and says so.)

(BUCKET_OWNER, the account id, is passed as ExpectedBucketOwner on every S3
call to the run's bucket, as the core does.)

A live instance (pending/running) already tagged ``easytdv:run-id=<run>`` and
``easytdv:launch=<N>``, with this launcher's instance profile and security
group, is returned instead of launching a second one (one with the tags but
not those was not launched by easyTDV and is not reused). Otherwise
RunInstances is tried in each subnet in order (EC2's choice when no subnets are
given); a capacity error (InsufficientInstanceCapacity, Unsupported, and for
spot SpotMaxPriceTooLow, MaxSpotInstanceCountExceeded) moves on to the next.

Returns ``{"instance_id": "i-...", "zone": "eu-west-3b", "subnet_id": "subnet-...",
"tried": [{"zone": "eu-west-3a", "subnet_id": "subnet-...", "code": "InsufficientInstanceCapacity",
"market": "spot"}], "reused": false, "market": "spot" | "on-demand",
"spot_refused": "<the last spot error code>" | null}``. Failures raise LaunchError whose message is
``easytdv launcher: RunInstances failed (<Code>: <message>)`` (a Lambda
FunctionError; the core reads <Code>), followed by the zones tried when there
were several. Pure boto3; the client is created with boto3's defaults, so
``AWS_ENDPOINT_URL`` (the local sandbox) is honoured.
"""

import os
import re
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

APP_TAG = "easytdv"
BOOTSTRAP_FILE = Path(__file__).resolve().parent / "bootstrap.sh"
MAX_RUNTIME_PLACEHOLDER = "__MAX_RUNTIME_MINUTES__"

# A freshly created instance profile / role takes a few seconds (rarely up to
# a minute) to become visible to EC2. Retry for at most this long in total.
RETRY_BUDGET_SECONDS = 90.0
FIRST_DELAY_SECONDS = 2.0
MAX_DELAY_SECONDS = 15.0

# Error codes that, on a just-created stack, mean "IAM has not propagated yet".
_IAM_PROPAGATION_CODES = {"InvalidParameterValue", "InvalidParameterCombination"}
_IAM_PROPAGATION_HINTS = ("iam", "instance profile", "instanceprofile")
# The launcher's own role is also brand new: its policy may not be in force yet.
_ALWAYS_RETRY_CODES = {"UnauthorizedOperation"}
# Capacity errors of one zone: the next subnet (zone) may have the machine.
NEXT_ZONE_CODES = {
    "InsufficientInstanceCapacity",
    "Unsupported",
    "SpotMaxPriceTooLow",
    "MaxSpotInstanceCountExceeded",
}
# A spot request that cannot be had (in this zone, or at all): the next zone,
# then on demand. (AuthFailure...: the account has no AWSServiceRoleForEC2Spot
# and the launcher may not create it.)
SPOT_FALLBACK_CODES = NEXT_ZONE_CODES | {
    "UnfulfillableCapacity",
    "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
    # Spot denied (an organisation's rule, or a base from before spot): on demand.
    "UnauthorizedOperation",
}
SPOT_OPTIONS = {
    "MarketType": "spot",
    "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
}
LAUNCH_TAG = "easytdv:launch"
RUN_TAG = "easytdv:run-id"

# Indirection so tests can run the retry loop without really sleeping.
_sleep = time.sleep
_monotonic = time.monotonic


class LaunchError(RuntimeError):
    """A launch failure with a message meant for a human."""


class ZoneError(LaunchError):
    """RunInstances refused for lack of capacity in one zone (worth another zone)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def _env(name):
    value = os.environ.get(name, "").strip()
    if not value:
        raise LaunchError(f"easytdv launcher: environment variable {name} is not set")
    return value


# What the base's launcher accepts of a run in its event (the per-run stack's
# parameters have the same rules: templates/stack.yaml).
_RUN_FIELDS = {
    "run_id": re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}"),
    "ami_id": re.compile(r"ami-[0-9a-f]{8,17}"),
    "instance_type": re.compile(r"[a-z0-9-]+\.[a-z0-9-]+"),
    "bucket": re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
}


def _number(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise LaunchError(f"easytdv launcher: {name} is not a number: {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise LaunchError(f"easytdv launcher: {name} is not a number: {value!r}") from None
    if not low <= number <= high:
        raise LaunchError(f"easytdv launcher: {name} must be between {low} and {high}, not {value!r}")
    return number


def _run_from_event(run):
    """A run named in the base launcher's event: every field checked, nothing else taken."""
    if not isinstance(run, dict):
        raise LaunchError(f"easytdv launcher: bad run in the event: {run!r}")
    cfg = {}
    for field, pattern in _RUN_FIELDS.items():
        value = run.get(field)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise LaunchError(f"easytdv launcher: bad {field} in the event: {value!r}")
        cfg[field.upper()] = value
    prefix = run.get("run_prefix")
    if prefix != f"easytdv/runs/{cfg['RUN_ID']}":
        raise LaunchError(f"easytdv launcher: the run prefix must be easytdv/runs/{cfg['RUN_ID']}, not {prefix!r}")
    cfg["RUN_PREFIX"] = prefix
    cfg["DISK_SIZE_GB"] = run.get("disk_size_gb")
    cfg["MAX_RUNTIME_HOURS"] = run.get("max_runtime_hours")
    spot = run.get("spot", False)
    if not isinstance(spot, bool):
        raise LaunchError(f"easytdv launcher: bad spot in the event: {spot!r}")
    cfg["SPOT"] = spot
    cfg["INSTANCE_PROFILE_ARN"] = _env("INSTANCE_PROFILE_ARN")
    cfg["SECURITY_GROUP_ID"] = _env("SECURITY_GROUP_ID")
    return cfg


def _config(event=None):
    if isinstance(event, dict) and "run" in event:
        cfg = _run_from_event(event["run"])
    else:
        cfg = {
            name: _env(name)
            for name in (
                "RUN_ID",
                "AMI_ID",
                "INSTANCE_TYPE",
                "DISK_SIZE_GB",
                "INSTANCE_PROFILE_ARN",
                "SECURITY_GROUP_ID",
                "MAX_RUNTIME_HOURS",
            )
        }
        cfg["BUCKET"] = os.environ.get("BUCKET", "")
        cfg["RUN_PREFIX"] = os.environ.get("RUN_PREFIX", "")
    cfg["DISK_SIZE_GB"] = int(_number("DISK_SIZE_GB", cfg["DISK_SIZE_GB"], 8, 16384))
    hours = _number("MAX_RUNTIME_HOURS", cfg["MAX_RUNTIME_HOURS"], 0.05, 48)
    cfg["MAX_RUNTIME_MINUTES"] = max(1, int(round(hours * 60)))
    return cfg


def _error_text(err):
    error = err.response.get("Error", {})
    return error.get("Code", ""), error.get("Message", "")


def is_iam_propagation_error(err):
    """True when a ClientError looks like IAM eventual consistency."""
    code, message = _error_text(err)
    if code in _ALWAYS_RETRY_CODES:
        return True
    if code in _IAM_PROPAGATION_CODES:
        lowered = message.lower()
        return any(hint in lowered for hint in _IAM_PROPAGATION_HINTS)
    return False


def root_device_name(ec2, ami_id):
    try:
        images = ec2.describe_images(ImageIds=[ami_id]).get("Images", [])
    except ClientError as err:
        code, message = _error_text(err)
        raise LaunchError(f"easytdv launcher: could not read AMI {ami_id} in this region ({code}: {message})") from err
    if not images:
        raise LaunchError(f"easytdv launcher: AMI {ami_id} was not found in this region")
    return images[0].get("RootDeviceName") or "/dev/xvda"


def user_data(max_runtime_minutes):
    try:
        script = BOOTSTRAP_FILE.read_text(encoding="utf-8")
    except OSError as err:
        raise LaunchError(f"easytdv launcher: bootstrap.sh is missing from the function package ({err})") from err
    return script.replace(MAX_RUNTIME_PLACEHOLDER, str(max_runtime_minutes))


def run_instances_request(cfg, device_name, launch=1, subnet=None, index=None, spot=False):
    """The RunInstances parameters for this run (no network access).

    ``launch`` counts the run's deliberate launches (a retry after the first
    machine was terminated is launch 2); ``subnet`` (``{"subnet_id": ...}``) and
    its ``index`` in the event's list pin the zone."""
    run_id = cfg["RUN_ID"]
    tags = [
        {"Key": "Name", "Value": f"easytdv-{run_id}"},
        {"Key": RUN_TAG, "Value": run_id},
        {"Key": "easytdv:app", "Value": APP_TAG},
        {"Key": LAUNCH_TAG, "Value": str(launch)},
    ]
    # Same token for every attempt and every repeated invocation of one launch
    # in one subnet: a repeated invoke returns the same instance, never a second.
    token = f"easytdv-{run_id}-{launch}" if index is None else f"easytdv-{run_id}-{launch}-{index}"
    if spot:
        token += "-spot"  # (the on-demand attempt after it is another request)
    request = {
        "ImageId": cfg["AMI_ID"],
        "InstanceType": cfg["INSTANCE_TYPE"],
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": token,
        "IamInstanceProfile": {"Arn": cfg["INSTANCE_PROFILE_ARN"]},
        "SecurityGroupIds": [cfg["SECURITY_GROUP_ID"]],
        "InstanceInitiatedShutdownBehavior": "terminate",
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpEndpoint": "enabled",
        },
        "BlockDeviceMappings": [
            {
                "DeviceName": device_name,
                "Ebs": {
                    "VolumeSize": cfg["DISK_SIZE_GB"],
                    "VolumeType": "gp3",
                    "Encrypted": True,
                    "DeleteOnTermination": True,
                },
            }
        ],
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": tags},
            {"ResourceType": "volume", "Tags": tags},
        ],
        # boto3 base64-encodes UserData for RunInstances itself.
        "UserData": user_data(cfg["MAX_RUNTIME_MINUTES"]),
    }
    if subnet is not None:
        request["SubnetId"] = subnet["subnet_id"]
    if spot:
        request["InstanceMarketOptions"] = SPOT_OPTIONS
    return request


STOP_FILE = "stop"


def stop_requested(s3, bucket, prefix, owner):
    """True once the run was stopped: the core writes <prefix>/stop before it
    deletes anything, so a launcher still running then launches nothing.
    ``owner`` (the account) is the bucket's expected owner: a bucket of anyone
    else answers 403 and is never read."""
    if s3 is None:
        return False
    try:
        s3.head_object(Bucket=bucket, Key=f"{prefix}/{STOP_FILE}", ExpectedBucketOwner=owner)
        return True
    except ClientError:
        # 404 (no stop), or 403 (without s3:ListBucket a missing key is 403).
        return False


def run_with_retry(ec2, request, stopped=lambda: False):
    deadline = _monotonic() + RETRY_BUDGET_SECONDS
    delay = FIRST_DELAY_SECONDS
    attempt = 0
    while True:
        attempt += 1
        if stopped():
            raise LaunchError("easytdv launcher: the run was stopped; no machine was launched")
        try:
            return ec2.run_instances(**request)
        except ClientError as err:
            code, message = _error_text(err)
            remaining = deadline - _monotonic()
            zone_codes = SPOT_FALLBACK_CODES if "InstanceMarketOptions" in request else NEXT_ZONE_CODES
            if code in zone_codes:
                raise ZoneError(f"easytdv launcher: RunInstances failed ({code}: {message})", code) from err
            if not is_iam_propagation_error(err):
                raise LaunchError(f"easytdv launcher: RunInstances failed ({code}: {message})") from err
            if remaining <= 0:
                raise LaunchError(
                    f"easytdv launcher: RunInstances still failing after {attempt} attempts over "
                    f"{RETRY_BUDGET_SECONDS:.0f} s; IAM changes may not have propagated or the "
                    f"launcher lacks a permission ({code}: {message})"
                ) from err
            wait = min(delay, remaining)
            print(f"easytdv launcher: attempt {attempt} hit {code} (IAM propagation?); retrying in {wait:.1f} s")
            _sleep(wait)
            delay = min(delay * 2, MAX_DELAY_SECONDS)


def launch_number(event):
    """The launch number from the event (`{"launch": 2}`), 1 by default."""
    value = (event or {}).get("launch", 1) if isinstance(event, dict) else 1
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise LaunchError(f"easytdv launcher: bad launch number {value!r} in the event")
    return value


def subnet_choices(event):
    """The event's subnets, in order, each ``{"subnet_id", "zone"}`` (None: EC2 chooses)."""
    subnets = (event or {}).get("subnets") if isinstance(event, dict) else None
    if subnets is None:
        return None
    if not isinstance(subnets, list) or not subnets or len(subnets) > 32:
        raise LaunchError(f"easytdv launcher: bad subnets in the event: {subnets!r}")
    out = []
    for item in subnets:
        subnet_id = item.get("subnet_id") if isinstance(item, dict) else None
        zone = item.get("zone") if isinstance(item, dict) else None
        if not isinstance(subnet_id, str) or not subnet_id.startswith("subnet-"):
            raise LaunchError(f"easytdv launcher: bad subnet {item!r} in the event")
        out.append({"subnet_id": subnet_id, "zone": zone if isinstance(zone, str) else None})
    return out


def _ours(instance, cfg):
    """Whether a tagged instance was launched as this launcher launches: its
    profile and security group. Tags alone can be set by anyone in the account
    who may tag an instance; the app would then send the run to that machine."""
    profile = (instance.get("IamInstanceProfile") or {}).get("Arn")
    groups = [g.get("GroupId") for g in instance.get("SecurityGroups") or []]
    return profile == cfg["INSTANCE_PROFILE_ARN"] and groups == [cfg["SECURITY_GROUP_ID"]]


def live_instance(ec2, cfg, launch):
    """A pending/running instance of this run and launch, launched as this
    launcher launches, or None."""
    run_id = cfg["RUN_ID"]
    try:
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[
                {"Name": f"tag:{RUN_TAG}", "Values": [run_id]},
                {"Name": f"tag:{LAUNCH_TAG}", "Values": [str(launch)]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )
        for page in pages:
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    if _ours(instance, cfg):
                        return instance
                    print(
                        f"easytdv launcher: {instance.get('InstanceId')} is tagged for run {run_id} but was "
                        "not launched with its profile and security group; not reused"
                    )
    except ClientError as err:
        code, message = _error_text(err)
        # Without ec2:DescribeInstances the ClientToken still makes a repeat safe.
        print(f"easytdv launcher: could not look for a live instance ({code}: {message}); launching")
    return None


def _answer(instance, subnet, tried, reused, spot_refused=None):
    placement = instance.get("Placement") or {}
    return {
        "instance_id": instance["InstanceId"],
        "zone": placement.get("AvailabilityZone") or (subnet or {}).get("zone"),
        "subnet_id": instance.get("SubnetId") or (subnet or {}).get("subnet_id"),
        "tried": tried,
        "reused": reused,
        "market": "spot" if instance.get("InstanceLifecycle") == "spot" else "on-demand",
        "spot_refused": spot_refused,
    }


def handler(event, context):
    cfg = _config(event)
    launch = launch_number(event)
    subnets = subnet_choices(event)
    ec2 = boto3.client("ec2")
    bucket, prefix = cfg["BUCKET"], cfg["RUN_PREFIX"]
    s3, owner = None, None
    if bucket and prefix:
        owner = _env("BUCKET_OWNER")
        s3 = boto3.client("s3")

    def stopped():
        return stop_requested(s3, bucket, prefix, owner)

    existing = live_instance(ec2, cfg, launch)
    if existing is not None:
        print(f"easytdv launcher: run {cfg['RUN_ID']} launch {launch} is already {existing['InstanceId']}")
        return _answer(existing, None, [], True)
    device = root_device_name(ec2, cfg["AMI_ID"])
    choices = subnets if subnets is not None else [None]
    tried = []
    spot_refused = None
    for spot in (True, False) if cfg.get("SPOT") else (False,):
        market = "spot" if spot else "on-demand"
        for index, subnet in enumerate(choices):
            request = run_instances_request(cfg, device, launch, subnet, None if subnets is None else index, spot)
            try:
                response = run_with_retry(ec2, request, stopped)
            except ZoneError as err:
                tried.append({"zone": (subnet or {}).get("zone"), "subnet_id": (subnet or {}).get("subnet_id"),
                              "code": err.code, "market": market})  # fmt: skip
                if index + 1 < len(choices):
                    print(f"easytdv launcher: {err}; trying the next zone")
                    continue
                if spot:
                    spot_refused = err.code
                    print(f"easytdv launcher: no spot machine ({err.code}); launching on demand")
                    break
                if len(tried) > 1:
                    zones = "; ".join(f"{t['zone'] or t['subnet_id']}: {t['code']}" for t in tried)
                    raise LaunchError(f"{err} [zones tried: {zones}]") from err
                raise
            instances = response.get("Instances") or []
            if len(instances) != 1 or not instances[0].get("InstanceId"):
                raise LaunchError(f"easytdv launcher: RunInstances returned {len(instances)} instances, expected 1")
            answer = _answer(instances[0], subnet, tried, False, spot_refused)
            print(
                f"easytdv launcher: run {cfg['RUN_ID']} launched {answer['instance_id']} in {answer['zone']} "
                f"({answer['market']})"
            )
            return answer
    raise LaunchError("easytdv launcher: no subnet to launch in")
