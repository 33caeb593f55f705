"""SageMaker training jobs really run: a tiny train.py in script mode, its logs in
CloudWatch Logs, its outputs in S3; failure, stop and the training quotas."""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import HOOK_HEADERS, REGION, calls, wait_for

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
IMAGE = "763104351884.dkr.ecr.eu-west-3.amazonaws.com/pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

TRAIN = """\
import json, os, sys, time
print("hello from train.py", sys.argv[1:], flush=True)
data = os.environ["SM_CHANNEL_TRAIN"]
print("inputs:", sorted(os.listdir(data)), flush=True)
print("epochs", json.loads(os.environ["SM_HPS"])["epochs"], flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.txt"), "w") as f:
    f.write("trained on " + open(os.path.join(data, "rows.csv")).read())
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "metrics.json"), "w") as f:
    f.write('{"loss": 0.5}')
print("done", flush=True)
"""

FAIL = """\
print("about to fail", flush=True)
raise ValueError("bad learning rate")
"""

SLOW = """\
import time
print("training forever", flush=True)
while True:
    time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def setup(aws):
    """(bucket, role ARN) for the module's jobs."""
    bucket = f"sm-{uuid.uuid4().hex[:10]}"
    aws.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    aws.s3.put_object(Bucket=bucket, Key="data/rows.csv", Body=b"1,2,3\n")
    role = aws.iam.create_role(RoleName=f"{bucket}-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    return bucket, role


def upload_source(aws, bucket: str, name: str, script: str) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = script.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    key = f"code/{name}/sourcedir.tar.gz"
    aws.s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
    return f"s3://{bucket}/{key}"


def create_job(aws, setup, script: str, instance_type: str = "ml.m5.large", **extra) -> str:
    bucket, role = setup
    name = f"t-{uuid.uuid4().hex[:12]}"
    aws.sagemaker.create_training_job(
        TrainingJobName=name,
        RoleArn=role,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(upload_source(aws, bucket, name, script)),
            "epochs": json.dumps(3),
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 10},
        **{"StoppingCondition": {"MaxRuntimeInSeconds": 600}, **extra},
    )
    return name


def wait_ended(aws, name: str, timeout: float = 60) -> dict:
    return wait_for(
        lambda: (
            (d := aws.sagemaker.describe_training_job(TrainingJobName=name))["TrainingJobStatus"]
            not in ("InProgress", "Stopping")
            and d
        ),
        timeout=timeout,
        interval=0.25,
        what=f"training job {name} to end",
    )


def log_text(aws, name: str) -> str:
    streams = aws.logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    assert [s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams] == ["algo-1"]
    events = aws.logs.get_log_events(
        logGroupName=LOG_GROUP, logStreamName=streams[0]["logStreamName"], startFromHead=True
    )["events"]
    return "\n".join(e["message"] for e in events)


def test_job_runs_to_completed_with_logs_and_outputs(aws, setup, data_dir):
    bucket, _ = setup
    name = create_job(aws, setup, TRAIN)
    running = aws.sagemaker.describe_training_job(TrainingJobName=name)
    assert running["TrainingJobStatus"] in ("InProgress", "Completed")
    d = wait_ended(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert d["SecondaryStatus"] == "Completed"
    statuses = [t["Status"] for t in d["SecondaryStatusTransitions"]]
    assert statuses[0] == "Starting" and statuses[-1] == "Completed"
    assert "Training" in statuses and "Uploading" in statuses
    assert d["TrainingTimeInSeconds"] >= 1 and d["BillableTimeInSeconds"] >= 1
    assert d["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{bucket}/out/{name}/output/model.tar.gz"

    text = wait_for(lambda: (t := log_text(aws, name)) and "Reporting training SUCCESS" in t and t, what="logs")
    assert "hello from train.py ['--epochs', '3']" in text
    assert "inputs: ['rows.csv']" in text
    assert "epochs 3" in text

    model = aws.s3.get_object(Bucket=bucket, Key=f"out/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(model)) as tar:
        assert tar.extractfile("weights.txt").read() == b"trained on 1,2,3\n"
    output = aws.s3.get_object(Bucket=bucket, Key=f"out/{name}/output/output.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(output)) as tar:
        assert json.loads(tar.extractfile("metrics.json").read()) == {"loss": 0.5}

    listed = aws.sagemaker.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
    assert [(j["TrainingJobName"], j["TrainingJobStatus"]) for j in listed] == [(name, "Completed")]

    # what the platform did for the job is recorded as the job's principal, marked via sagemaker
    platform = [c for c in calls(data_dir) if c["principal"] == f"sagemaker:{name}"]
    assert platform and all(c.get("role") == f"{bucket}-role" for c in platform)
    assert {"s3:GetObject", "logs:PutLogEvents", "s3:PutObject"} <= {c["action"] for c in platform}


def test_failing_script_fails_the_job(aws, setup):
    name = create_job(aws, setup, FAIL)
    d = wait_ended(aws, name)
    assert d["TrainingJobStatus"] == "Failed"
    assert d["SecondaryStatus"] == "Failed"
    assert d["FailureReason"].startswith("AlgorithmError: ExecuteUserScriptError")
    assert "ValueError: bad learning rate" in d["FailureReason"]
    text = wait_for(lambda: (t := log_text(aws, name)) and "bad learning rate" in t and t, what="logs")
    assert "about to fail" in text and "Traceback" in text


def test_empty_lines_and_both_streams_at_once_lose_no_line(aws, setup):
    """The awslogs driver skips empty lines (PutLogEvents takes no empty message) and a host's events reach
    CloudWatch in order: a refused batch would lose every line of it (e.g. an installer's error between blank
    lines, on stdout and stderr at once)."""
    script = (
        "import sys\n"
        "for i in range(300):\n"
        "    print(f'out {i}', flush=True)\n"
        "    print('', flush=True)\n"
        "    print(f'err {i}', file=sys.stderr, flush=True)\n"
    )
    name = create_job(aws, setup, script)
    assert wait_ended(aws, name)["TrainingJobStatus"] == "Completed"
    text = wait_for(lambda: (t := log_text(aws, name)) and "Reporting training SUCCESS" in t and t, what="logs")
    lines = text.splitlines()
    assert all(f"out {i}" in lines and f"err {i}" in lines for i in range(300)), text[-2000:]
    assert "" not in lines


def test_stop_training_job(aws, setup):
    name = create_job(aws, setup, SLOW)
    wait_for(
        lambda: "training forever" in log_text(aws, name) if _has_stream(aws, name) else False,
        timeout=60,
        what="the script to start",
    )
    aws.sagemaker.stop_training_job(TrainingJobName=name)
    d = wait_ended(aws, name)
    assert d["TrainingJobStatus"] == "Stopped"
    assert d["SecondaryStatus"] == "Stopped"
    with pytest.raises(ClientError) as e:
        aws.sagemaker.stop_training_job(TrainingJobName=name)
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_a_job_that_does_not_exist_is_answered_in_aws_words(aws):
    """AWS: `ValidationException: Requested resource not found.` (moto: "Could not find training job ...")."""
    for call in (aws.sagemaker.describe_training_job, aws.sagemaker.stop_training_job):
        with pytest.raises(ClientError) as e:
            call(TrainingJobName="no-such-job")
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert e.value.response["Error"]["Message"] == "Requested resource not found."


def _has_stream(aws, name: str) -> bool:
    return bool(aws.logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"])


def test_quota_refusal(aws, setup):
    """A fresh account has 0 "ml.g5.xlarge for training job usage": CreateTrainingJob refuses, nothing runs."""
    with pytest.raises(ClientError) as e:
        create_job(aws, setup, TRAIN, instance_type="ml.g5.xlarge")
    assert e.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert "ml.g5.xlarge for training job usage" in e.value.response["Error"]["Message"]
    quotas = aws("service-quotas").list_service_quotas(ServiceCode="sagemaker", MaxResults=100)
    names = {q["QuotaName"]: q["Value"] for q in quotas["Quotas"]}
    while quotas.get("NextToken"):
        quotas = aws("service-quotas").list_service_quotas(
            ServiceCode="sagemaker", MaxResults=100, NextToken=quotas["NextToken"]
        )
        names.update({q["QuotaName"]: q["Value"] for q in quotas["Quotas"]})
    assert names["ml.g5.xlarge for training job usage"] == 0
    assert names["ml.m5.large for training job usage"] >= 1


def test_bad_requests_are_refused(aws, setup):
    bucket, role = setup

    def jobs() -> int:
        return len(aws.sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"])

    before = jobs()
    with pytest.raises(ClientError) as e:
        create_job(aws, (bucket, role.replace("-role", "-nope")), TRAIN)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not assume role" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        create_job(aws, setup, TRAIN, instance_type="ml.nope.large")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    # The Environment map's limits (SageMaker's API model): 100 entries, keys
    # [a-zA-Z_][a-zA-Z0-9_]* of at most 512 characters, values of at most 512.
    for env, words in (
        ({"MY-VAR": "1"}, "Map keys must satisfy constraint"),
        ({"A" * 513: "1"}, "Map keys must satisfy constraint"),
        ({"V": "x" * 513}, "Map value must satisfy constraint"),
        ({f"V{i}": "" for i in range(101)}, "Member must have length less than or equal to 100"),
    ):
        with pytest.raises(ClientError) as e:
            create_job(aws, setup, TRAIN, Environment=env)
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert "at 'environment' failed to satisfy constraint: " + words in e.value.response["Error"]["Message"]
    assert jobs() == before


def test_a_new_role_can_be_refused_until_it_has_propagated(aws, setup, endpoint):
    """The role-propagation hook: CreateTrainingJob cannot assume a role younger than S seconds."""
    bucket, _ = setup
    name = f"{bucket}-young"
    role = aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    _post(endpoint, "sagemaker/role-propagation", {"role": name, "seconds": 3})
    try:
        with pytest.raises(ClientError) as e:
            create_job(aws, (bucket, role), TRAIN)
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert e.value.response["Error"]["Message"] == (
            f"Could not assume role {role}. Please ensure that the role exists and allows principal "
            "'sagemaker.amazonaws.com' to assume the role."
        )
        # Other roles are not held back.
        wait_ended(aws, create_job(aws, setup, TRAIN))
        job = wait_for(
            lambda: _create_or_none(aws, (bucket, role)), timeout=10, interval=0.5, what="the role to be usable"
        )
        assert wait_ended(aws, job)["TrainingJobStatus"] == "Completed"
        seen = _post(endpoint, "sagemaker/role-propagation", {"role": name, "seconds": 0})
        assert seen["refused"][name] >= 2 and name not in seen["roles"]
    finally:
        _post(endpoint, "sagemaker/role-propagation", {"role": name, "seconds": 0})


def _create_or_none(aws, setup) -> str | None:
    try:
        return create_job(aws, setup, TRAIN)
    except ClientError as e:
        assert "Could not assume role" in e.response["Error"]["Message"]
        return None


def test_the_pytorch_image_must_come_from_the_regions_publisher(aws, setup):
    """SageMaker refuses AWS's PyTorch image from an account that does not serve it in the job's region."""
    bucket, role = setup

    def refused(image: str, region: str = REGION) -> str:
        client = aws("sagemaker", region)
        with pytest.raises(ClientError) as e:
            client.create_training_job(
                TrainingJobName=f"t-{uuid.uuid4().hex[:12]}",
                RoleArn=role,
                AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
                OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
                StoppingCondition={"MaxRuntimeInSeconds": 600},
            )
        assert e.value.response["Error"]["Code"] == "ValidationException"
        return e.value.response["Error"]["Message"]

    tag = "pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker"
    # Osaka's images come from its own registry, not from the account most regions use.
    assert refused(f"763104351884.dkr.ecr.ap-northeast-3.amazonaws.com/{tag}", "ap-northeast-3") == (
        "Invalid training image. Please provide a valid Amazon Elastic Container Registry path of the Docker "
        "image to run."
    )
    assert refused(f"364406365360.dkr.ecr.eu-west-3.amazonaws.com/{tag}").startswith("Invalid training image.")
    assert refused(f"763104351884.dkr.ecr.us-east-1.amazonaws.com/{tag}") == (
        "Invalid DNS suffix 'amazonaws.com' for region 'us-east-1' in training image. "
        "Please provide the valid <region>.<dns-suffix>: 'eu-west-3.amazonaws.com'"
    )


SPOT = """\
import os, sys, time
checkpoint = os.path.join(os.environ["EASYTDV_CHECKPOINT_DIR"], "step.txt")
if os.path.exists(checkpoint):
    print("resumed at step", open(checkpoint).read(), flush=True)
    sys.exit(0)
open(checkpoint, "w").write("5")
print("checkpoint written", flush=True)
time.sleep(60)
sys.exit(1)
"""

RANKS = """\
import json, os
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
assert json.loads(os.environ["SM_HOSTS"])[rank] == os.environ["SM_CURRENT_HOST"]
assert os.environ["MASTER_ADDR"] == "127.0.0.1" and os.environ["LOCAL_RANK"] == "0"
print(f"rank {rank} of {world}", flush=True)
"""


def _post(endpoint: str, path: str, body: dict) -> dict:
    import urllib.request

    req = urllib.request.Request(
        f"{endpoint}/easytdv-api/{path}", data=json.dumps(body).encode(), headers=HOOK_HEADERS, method="POST"
    )
    with urllib.request.urlopen(req) as answer:
        return json.loads(answer.read())


def test_spot_interruption_restarts_the_job_from_its_checkpoint(aws, setup, endpoint):
    bucket, _ = setup
    name = create_job(
        aws,
        setup,
        SPOT,
        EnableManagedSpotTraining=True,
        StoppingCondition={"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 1200},
        CheckpointConfig={"S3Uri": f"s3://{bucket}/ck/{uuid.uuid4().hex[:6]}/", "LocalPath": "/opt/ml/checkpoints"},
        Environment={"EASYTDV_CHECKPOINT_DIR": "/opt/ml/checkpoints"},
    )
    uri = aws.sagemaker.describe_training_job(TrainingJobName=name)["CheckpointConfig"]["S3Uri"]
    prefix = uri[len(f"s3://{bucket}/") :]
    wait_for(
        lambda: aws.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) > 0,
        timeout=60,
        what="the checkpoint in S3",
    )
    _post(endpoint, "sagemaker/interrupt", {"job": name})
    d = wait_ended(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    statuses = [t["Status"] for t in d["SecondaryStatusTransitions"]]
    assert "Interrupted" in statuses and "Restarting" in statuses
    assert d["BillableTimeInSeconds"] <= d["TrainingTimeInSeconds"]
    streams = aws.logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    text = "\n".join(
        e["message"]
        for s in streams
        for e in aws.logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=s["logStreamName"], startFromHead=True)[
            "events"
        ]
    )
    assert len(streams) == 2 and "resumed at step 5" in text


def test_torch_distributed_gives_each_machine_its_rank(aws, setup):
    name = create_job(aws, setup, RANKS)  # one machine: no torchrun variables
    assert "KeyError: 'RANK'" in wait_ended(aws, name)["FailureReason"]
    bucket, role = setup
    two = f"t-{uuid.uuid4().hex[:12]}"
    aws.sagemaker.create_training_job(
        TrainingJobName=two,
        RoleArn=role,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(upload_source(aws, bucket, two, RANKS)),
            "sagemaker_torch_distributed_enabled": "true",
        },
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 10},
    )
    d = wait_ended(aws, two)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    streams = aws.logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{two}/")["logStreams"]
    hosts = sorted(s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams)
    assert hosts == ["algo-1", "algo-2"]
    text = "\n".join(
        e["message"]
        for s in streams
        for e in aws.logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=s["logStreamName"], startFromHead=True)[
            "events"
        ]
    )
    assert "rank 0 of 2" in text and "rank 1 of 2" in text


LIST_CHANNEL = """\
import os
root = os.environ["SM_CHANNEL_DATA"]
for d, _, names in sorted(os.walk(root)):
    for n in sorted(names):
        p = os.path.join(d, n)
        print("file", os.path.relpath(p, root), open(p).read().strip(), flush=True)
"""


def manifest_job(aws, setup, manifest_key: str) -> str:
    bucket, role = setup
    name = f"t-{uuid.uuid4().hex[:12]}"
    aws.sagemaker.create_training_job(
        TrainingJobName=name,
        RoleArn=role,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(upload_source(aws, bucket, name, LIST_CHANNEL)),
        },
        InputDataConfig=[
            {
                "ChannelName": "data",
                "InputMode": "File",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile",
                        "S3Uri": f"s3://{bucket}/{manifest_key}",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    return name


def test_a_manifest_file_channel_downloads_each_listed_object_at_its_suffix(aws, setup, data_dir):
    """Issue 21: S3DataType ManifestFile, as AWS documents it: a JSON array, the
    prefix first, then the suffixes; the objects are read with the job's role."""
    bucket, _ = setup
    aws.s3.put_object(Bucket=bucket, Key="blobs/aa", Body=b"first\n")
    aws.s3.put_object(Bucket=bucket, Key="blobs/sub/bb", Body=b"second\n")
    aws.s3.put_object(Bucket=bucket, Key="blobs/not-listed", Body=b"never\n")
    manifest = [{"prefix": f"s3://{bucket}/blobs/"}, "aa", "sub/bb"]
    aws.s3.put_object(Bucket=bucket, Key="m/ok.manifest", Body=json.dumps(manifest).encode())
    name = manifest_job(aws, setup, "m/ok.manifest")
    d = wait_ended(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    text = wait_for(lambda: (t := log_text(aws, name)) and "Reporting training SUCCESS" in t and t, what="logs")
    files = [line for line in text.splitlines() if line.startswith("file ")]
    assert files == ["file aa first", "file sub/bb second"], text
    platform = [c for c in calls(data_dir) if c["principal"] == f"sagemaker:{name}" and c["action"] == "s3:GetObject"]
    assert {c.get("key") for c in platform} >= {"m/ok.manifest", "blobs/aa", "blobs/sub/bb"}
    assert "blobs/not-listed" not in {c.get("key") for c in platform}

    # A listed object that is not there fails the job before the script, in AWS's words.
    missing = [{"prefix": f"s3://{bucket}/blobs/"}, "aa", "gone"]
    aws.s3.put_object(Bucket=bucket, Key="m/missing.manifest", Body=json.dumps(missing).encode())
    d = wait_ended(aws, manifest_job(aws, setup, "m/missing.manifest"))
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("ClientError: Data download failed:Failed to download data. 404"), d
    # So does a manifest that is not one.
    aws.s3.put_object(Bucket=bucket, Key="m/bad.manifest", Body=b'["aa"]')
    d = wait_ended(aws, manifest_job(aws, setup, "m/bad.manifest"))
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("ClientError: Data download failed:the manifest file"), d
