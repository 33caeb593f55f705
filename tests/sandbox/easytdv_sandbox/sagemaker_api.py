"""SageMaker training-job API over moto: CreateTrainingJob checks what AWS
checks before accepting a job (name, role, instance type, spot stopping
condition, training quotas) and starts it for real (sagemaker_exec);
DescribeTrainingJob / ListTrainingJobs report the running job;
StopTrainingJob (moto has none) stops it. A job that does not exist is answered
as AWS does (`ValidationException: Requested resource not found.`). Test hooks:
`POST /easytdv-api/sagemaker/interrupt {"job": name}` (spot interruption),
`POST /easytdv-api/sagemaker-delay {"seconds": S}` and
`POST /easytdv-api/sagemaker/role-propagation {"role": name | "*", "seconds": S}` (a role younger
than S seconds cannot be assumed yet, as when IAM has not propagated a new role).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from datetime import UTC, datetime

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iam.models import iam_backends
from moto.sagemaker.exceptions import SagemakerClientError, ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from . import gateway, latency, principals, quotas, sagemaker_exec, sagemaker_images, sagemaker_quotas
from .prices_data import training_instance_types

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
MAX_RUNTIME = 28 * 24 * 3600
LIVE = ("InProgress", "Stopping")
# AWS's words for a training job that does not exist (DescribeTrainingJob, StopTrainingJob).
NOT_FOUND = "Requested resource not found."
INVALID_IMAGE = (
    "Invalid training image. Please provide a valid Amazon Elastic Container Registry path of the Docker image to run."
)
# CreateTrainingJob's Environment (SageMaker's API model: TrainingEnvironmentMap, -Key, -Value).
ENV_MAX_ENTRIES = 100
ENV_MAX_LEN = 512
ENV_KEY_PATTERN = "[a-zA-Z_][a-zA-Z0-9_]*"
ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.(amazonaws\.com(?:\.cn)?)/([^:@]+)")


class ResourceLimitExceeded(SagemakerClientError):
    code = "ResourceLimitExceeded"


class ResourceInUse(SagemakerClientError):
    code = "ResourceInUse"


def _one_error(value, where: str, constraint: str) -> ValidationError:
    return ValidationError(
        f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy constraint: {constraint}"
    )


def _check_role(account: str, role_arn: str) -> None:
    message = (
        f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role."
    )
    name = str(role_arn or "").rsplit("/", 1)[-1]
    try:
        role = iam_backends[account]["global"].get_role(name)
    except Exception:  # noqa: BLE001 - NoSuchEntity
        raise ValidationError(message) from None
    if role.arn != role_arn:
        raise ValidationError(message)
    if _too_young(role):
        raise ValidationError(message)
    try:
        trust = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        raise ValidationError(message) from None
    statements = trust.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    for s in statements:
        services = (s.get("Principal") or {}).get("Service", []) if isinstance(s.get("Principal"), dict) else []
        services = services if isinstance(services, list) else [services]
        actions = s.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        if (
            s.get("Effect") == "Allow"
            and "sagemaker.amazonaws.com" in services
            and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions)
        ):
            return
    raise ValidationError(message)


def _too_young(role) -> bool:
    """The role-propagation hook: is this role still unknown to SageMaker (counted when refused)?"""
    default = latency.seconds("iam.role")  # AWS's time (latency.py), unless the hook says otherwise
    wait = sagemaker_exec.ROLE_PROPAGATION.get(role.name, sagemaker_exec.ROLE_PROPAGATION.get("*", default))
    if wait <= 0 or (utcnow() - role.create_date).total_seconds() >= wait:
        return False
    sagemaker_exec.ROLES_REFUSED[role.name] = sagemaker_exec.ROLES_REFUSED.get(role.name, 0) + 1
    return True


def _check_image(region: str, image: str) -> None:
    """AWS's PyTorch image must come from the account that publishes it in the job's region."""
    found = ECR_IMAGE.match(image or "")
    if not found:
        return
    account, image_region, suffix, repository = found.groups()
    if image_region != region:
        raise ValidationError(
            f"Invalid DNS suffix '{suffix}' for region '{image_region}' in training image. "
            f"Please provide the valid <region>.<dns-suffix>: '{region}.{suffix}'"
        )
    if (
        repository == sagemaker_images.REPOSITORY
        and account in sagemaker_images.publishers()
        and account != sagemaker_images.publisher(region)
    ):
        raise ValidationError(INVALID_IMAGE)


def _check_request(backend: SageMakerModelBackend, request: dict) -> None:
    name = request.get("TrainingJobName") or ""
    if not re.fullmatch(NAME_PATTERN, name):
        raise _one_error(name, "trainingJobName", f"Member must satisfy regular expression pattern: {NAME_PATTERN}")
    if name in backend.training_jobs:
        raise ResourceInUse(
            "Training job names must be unique within an AWS account and region, and a training job with this name "
            f"already exists ({backend.training_jobs[name].arn})"
        )
    spec = request.get("AlgorithmSpecification") or {}
    if not spec.get("TrainingImage") and not spec.get("AlgorithmName"):
        raise ValidationError("Either TrainingImage or AlgorithmName must be specified in AlgorithmSpecification.")
    _check_image(backend.region_name, spec.get("TrainingImage"))
    rc = request.get("ResourceConfig") or {}
    types = training_instance_types()
    itype = rc.get("InstanceType")
    if itype not in types:
        raise _one_error(
            itype, "resourceConfig.instanceType", f"Member must satisfy enum value set: [{', '.join(types)}]"
        )
    count = rc.get("InstanceCount")
    if not isinstance(count, int) or count < 1:
        raise _one_error(count, "resourceConfig.instanceCount", "Member must have value greater than or equal to 1")
    size = rc.get("VolumeSizeInGB")
    if not isinstance(size, int) or size < 1:
        raise _one_error(size, "resourceConfig.volumeSizeInGB", "Member must have value greater than or equal to 1")
    output = (request.get("OutputDataConfig") or {}).get("S3OutputPath", "")
    if not str(output).startswith("s3://"):
        raise _one_error(
            output,
            "outputDataConfig.s3OutputPath",
            "Member must satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$",
        )
    sc = request.get("StoppingCondition") or {}
    runtime = sc.get("MaxRuntimeInSeconds", 86400)
    if not isinstance(runtime, int) or not 1 <= runtime <= MAX_RUNTIME:
        raise _one_error(
            runtime,
            "stoppingCondition.maxRuntimeInSeconds",
            f"Member must have value less than or equal to {MAX_RUNTIME}",
        )
    wait = sc.get("MaxWaitTimeInSeconds")
    if request.get("EnableManagedSpotTraining"):
        if not isinstance(wait, int) or wait < runtime:
            raise ValidationError(
                "Invalid MaxWaitTimeInSeconds. It must be present and be greater than or equal to MaxRuntimeInSeconds"
            )
    elif wait is not None:
        raise ValidationError(
            "MaxWaitTimeInSeconds is only valid with managed spot training (EnableManagedSpotTraining)"
        )
    for channel in request.get("InputDataConfig") or []:
        if not re.fullmatch(r"[A-Za-z0-9\.\-_]+", channel.get("ChannelName") or ""):
            raise _one_error(
                channel.get("ChannelName"),
                "inputDataConfig.member.channelName",
                "Member must satisfy regular expression pattern: [A-Za-z0-9\\.\\-_]+",
            )
    _check_environment(request.get("Environment") or {})
    checkpoint = request.get("CheckpointConfig")
    if checkpoint and not str(checkpoint.get("S3Uri", "")).startswith("s3://"):
        raise _one_error(
            checkpoint.get("S3Uri"),
            "checkpointConfig.s3Uri",
            "Member must satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$",
        )
    _check_role(backend.account_id, request.get("RoleArn"))
    _check_quota(backend, itype, count, bool(request.get("EnableManagedSpotTraining")))


def _check_environment(env: dict) -> None:
    """The Environment map's limits, in the words of AWS's request validation."""
    if len(env) > ENV_MAX_ENTRIES:
        raise _one_error(env, "environment", f"Member must have length less than or equal to {ENV_MAX_ENTRIES}")
    for key, value in env.items():
        if len(key) > ENV_MAX_LEN or not re.fullmatch(ENV_KEY_PATTERN, key):
            raise _one_error(
                env,
                "environment",
                f"Map keys must satisfy constraint: [Member must have length less than or equal to {ENV_MAX_LEN}, "
                "Member must have length greater than or equal to 0, "
                f"Member must satisfy regular expression pattern: {ENV_KEY_PATTERN}]",
            )
        if len(str(value)) > ENV_MAX_LEN:
            raise _one_error(
                env,
                "environment",
                f"Map value must satisfy constraint: [Member must have length less than or equal to {ENV_MAX_LEN}, "
                "Member must have length greater than or equal to 0, "
                "Member must satisfy regular expression pattern: [\\S\\s]*]",
            )


def _check_quota(backend: SageMakerModelBackend, itype: str, count: int, spot: bool) -> None:
    code = sagemaker_quotas.code_for(itype, spot)
    limit = quotas.value(backend.region_name, code)
    used = sum(
        job.count
        for (account, region, _), job in list(sagemaker_exec.JOBS.items())
        if account == backend.account_id
        and region == backend.region_name
        and job.live()
        and job.instance_type == itype
        and job.spot == spot
    )
    if used + count > limit:
        raise ResourceLimitExceeded(sagemaker_quotas.limit_message(itype, spot, limit, used, count))


_orig_create = SageMakerModelBackend.create_training_job
_orig_describe = SageMakerModelBackend.describe_training_job


def _job_of(backend: SageMakerModelBackend, name: str) -> sagemaker_exec.Job | None:
    return sagemaker_exec.JOBS.get((backend.account_id, backend.region_name, name))


def _not_found() -> ValidationError:
    """AWS's answer for a training job it does not know (moto says "Could not find training job ...")."""
    return ValidationError(NOT_FOUND)


def _describe_training_job(self: SageMakerModelBackend, training_job_name: str) -> dict:
    job = _job_of(self, training_job_name)
    if job is not None:
        return job.describe()
    if training_job_name not in self.training_jobs:
        raise _not_found()
    return _orig_describe(self, training_job_name)


def _time(value):
    """A JSON timestamp (epoch seconds) as the datetime moto's jobs carry."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return value


_SORT = threading.local()  # (SortBy, SortOrder) of the request being answered


def _list_training_jobs(
    self: SageMakerModelBackend,
    next_token,
    max_results,
    creation_time_after,
    creation_time_before,
    last_modified_time_after,
    last_modified_time_before,
    name_contains,
    status_equals,
) -> dict:
    """moto's, but filtering before paging, sorting, and with SecondaryStatus."""
    sort_by, sort_order = getattr(_SORT, "value", ("CreationTime", "Ascending"))
    creation_time_after, creation_time_before, last_modified_time_after, last_modified_time_before = (
        _time(t)
        for t in (creation_time_after, creation_time_before, last_modified_time_after, last_modified_time_before)
    )
    jobs = list(self.training_jobs.values())

    def keep(j) -> bool:
        return (
            (name_contains is None or name_contains in j.training_job_name)
            and (creation_time_after is None or j.creation_time > creation_time_after)
            and (creation_time_before is None or j.creation_time < creation_time_before)
            and (last_modified_time_after is None or j.last_modified_time > last_modified_time_after)
            and (last_modified_time_before is None or j.last_modified_time < last_modified_time_before)
            and (status_equals is None or j.training_job_status == status_equals)
        )

    jobs = [j for j in jobs if keep(j)]
    key = {"Name": lambda j: j.training_job_name, "Status": lambda j: j.training_job_status}.get(
        sort_by, lambda j: j.creation_time
    )
    jobs.sort(key=key, reverse=sort_order == "Descending")
    start = int(next_token or 0)
    size = int(max_results or 10)
    summaries = []
    for j in jobs[start : start + size]:
        s = {
            "TrainingJobName": j.training_job_name,
            "TrainingJobArn": j.arn,
            "CreationTime": j.creation_time,
            "LastModifiedTime": j.last_modified_time,
            "TrainingJobStatus": j.training_job_status,
            "SecondaryStatus": j.secondary_status,
        }
        if j.training_end_time and j.training_job_status not in LIVE:
            s["TrainingEndTime"] = j.training_end_time
        summaries.append(s)
    answer = {"TrainingJobSummaries": summaries}
    if start + size < len(jobs):
        answer["NextToken"] = str(start + size)
    return answer


# --- response handlers ---------------------------------------------------------------


def create_training_job(self: SageMakerResponse) -> ActionResult:
    request = json.loads(self.body or "{}")
    backend = self.sagemaker_backend
    _check_request(backend, request)
    fake = _orig_create(
        backend,
        training_job_name=request["TrainingJobName"],
        hyper_parameters=copy.deepcopy(request.get("HyperParameters")),
        algorithm_specification=copy.deepcopy(request["AlgorithmSpecification"]),
        role_arn=request["RoleArn"],
        input_data_config=copy.deepcopy(request.get("InputDataConfig")),
        output_data_config=copy.deepcopy(request["OutputDataConfig"]),
        resource_config=copy.deepcopy(request["ResourceConfig"]),
        vpc_config=copy.deepcopy(request.get("VpcConfig")),
        stopping_condition=copy.deepcopy(request.get("StoppingCondition")),
        tags=copy.deepcopy(request.get("Tags")),
        enable_network_isolation=request.get("EnableNetworkIsolation", False),
        enable_inter_container_traffic_encryption=request.get("EnableInterContainerTrafficEncryption", False),
        enable_managed_spot_training=request.get("EnableManagedSpotTraining", False),
        checkpoint_config=copy.deepcopy(request.get("CheckpointConfig")),
        debug_hook_config=copy.deepcopy(request.get("DebugHookConfig")),
        debug_rule_configurations=copy.deepcopy(request.get("DebugRuleConfigurations")),
        tensor_board_output_config=copy.deepcopy(request.get("TensorBoardOutputConfig")),
        experiment_config=copy.deepcopy(request.get("ExperimentConfig")),
    )
    sagemaker_exec.start(backend.account_id, backend.region_name, request, fake)
    gateway.remember_role(principals.sagemaker_key(request["TrainingJobName"]))
    return ActionResult({"TrainingJobArn": fake.arn})


_orig_list_response = SageMakerResponse.list_training_jobs


def list_training_jobs(self: SageMakerResponse) -> ActionResult:
    """moto's handler (its parameter validation), with SortBy/SortOrder passed to the backend."""
    _SORT.value = (self._get_param("SortBy", "CreationTime"), self._get_param("SortOrder", "Ascending"))
    try:
        return _orig_list_response(self)
    finally:
        del _SORT.value


def stop_training_job(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("TrainingJobName")
    backend = self.sagemaker_backend
    job = _job_of(backend, name)
    if job is None:
        if name in backend.training_jobs:
            raise ValidationError(
                f"The request was rejected because the training job is in status "
                f"{backend.training_jobs[name].training_job_status}."
            )
        raise _not_found()
    if not job.live():
        raise ValidationError(f"The request was rejected because the training job is in status {job.status}.")
    job.request_stop("Stopped")
    return ActionResult({})


@gateway.hook("sagemaker/interrupt")
def _interrupt_hook(method: str, data: dict) -> tuple[int, dict]:
    """POST {"job": name}: the job's spot instances are reclaimed (it must be a spot job in Training)."""
    name = str(data["job"])
    job = sagemaker_exec.find(name)
    if job is None:
        raise ValueError(f"no training job {name!r}")
    job.request_interrupt()
    return 200, {"job": name, "status": job.status, "secondary_status": job.secondary}


@gateway.hook("sagemaker-delay")
def _delay_hook(method: str, data: dict) -> tuple[int, dict]:
    """POST {"seconds": S}: each training-job phase (Starting, Downloading, Uploading, ...) lasts S s."""
    if method == "POST":
        seconds = float(data["seconds"])
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        sagemaker_exec.DELAY["seconds"] = seconds
    return 200, {"seconds": sagemaker_exec.delay()}


@gateway.hook("sagemaker/role-propagation")
def _role_propagation_hook(method: str, data: dict) -> tuple[int, dict]:
    """POST {"role": name | "*", "seconds": S}: CreateTrainingJob cannot assume that role (or any role)
    until it is S seconds old ("Could not assume role ...", as while IAM propagates a new role); 0 removes it.
    GET: {"roles": {...}, "refused": {role name: refusals}}."""
    if method == "POST":
        role = str(data.get("role") or "*").rsplit("/", 1)[-1]
        seconds = float(data["seconds"])
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        if seconds == 0:
            sagemaker_exec.ROLE_PROPAGATION.pop(role, None)
        else:
            sagemaker_exec.ROLE_PROPAGATION[role] = seconds
    return 200, {"roles": dict(sagemaker_exec.ROLE_PROPAGATION), "refused": dict(sagemaker_exec.ROLES_REFUSED)}


def install() -> None:
    SageMakerModelBackend.describe_training_job = _describe_training_job
    SageMakerModelBackend.list_training_jobs = _list_training_jobs
    SageMakerResponse.create_training_job = create_training_job
    SageMakerResponse.list_training_jobs = list_training_jobs
    SageMakerResponse.stop_training_job = stop_training_job
