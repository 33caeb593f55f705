"""easyTDV: the run's secrets for a SageMaker job's script (issue 21).

The app puts each secret as a Parameter Store SecureString under the run's
own path (`/easytdv/runs/<run>/secrets/<NAME>`, deleted with the run) and
names them in the job's Environment: EASYTDV_SECRETS_PATH (that path) and
EASYTDV_SECRET_NAMES (NAME,NAME), never a value (DescribeTrainingJob shows the
Environment to anyone allowed sagemaker:Describe*). The launcher calls
`environment()` before it becomes the script: the values are read here with
the job's execution role (boto3, which AWS's PyTorch container has; the role
may read only this run's parameters, and decrypt only through Parameter
Store) and go into the script's environment only: never printed, written to
a file or passed as an argument. When they cannot be read the job stops
before the script starts, with exit code 81 and the reason on stderr (the
core tells it as `secrets_unreadable`), as train.sh does on EC2.
"""

import sys

SECRETS_UNREADABLE = 81
PATH_VAR = "EASYTDV_SECRETS_PATH"
NAMES_VAR = "EASYTDV_SECRET_NAMES"
NAMES_PER_CALL = 10  # GetParameters takes at most ten names


class SecretsError(Exception):
    pass


def _names(text):
    return [n for n in (text or "").split(",") if n]


def job_region(env):
    """The job's region: the SDK's variables, else the `sagemaker_region`
    hyperparameter easyTDV sets (in the container's hyperparameters.json)."""
    import json
    import os

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if env.get(name):
            return env[name]
    config = env.get("SM_INPUT_CONFIG_DIR") or "/opt/ml/input/config"
    try:
        with open(os.path.join(config, "hyperparameters.json"), encoding="utf-8") as f:
            value = json.load(f).get("sagemaker_region")
        return json.loads(value) if isinstance(value, str) and value.startswith('"') else value
    except (OSError, ValueError, AttributeError):
        return None


def _get_parameters(names, region=None):
    """GetParameters (WithDecryption) with the job's role; the Parameters list."""
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as e:
        raise SecretsError(f"boto3 is not in the job's Python ({e})") from None
    try:
        client = boto3.client("ssm", region_name=region) if region else boto3.client("ssm")
        answer = client.get_parameters(Names=names, WithDecryption=True)
    except ClientError as e:
        error = e.response.get("Error", {})
        raise SecretsError(f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")) from None
    except BotoCoreError as e:
        raise SecretsError(str(e)) from None
    return answer.get("Parameters", [])


def read_secrets(path, names, get_parameters=_get_parameters):
    """{NAME: value} of the parameters <path>/<NAME>, ten names per call."""
    wanted = [f"{path.rstrip('/')}/{n}" for n in names]
    found = {}
    for i in range(0, len(wanted), NAMES_PER_CALL):
        chunk = wanted[i : i + NAMES_PER_CALL]
        for p in get_parameters(chunk):
            if p.get("Name") in chunk and isinstance(p.get("Value"), str):
                found[p["Name"]] = p["Value"]
    missing = [n.rsplit("/", 1)[-1] for n in wanted if n not in found]
    if missing:
        raise SecretsError(f"{', '.join(missing)}: not in Parameter Store (the run's secrets were deleted?)")
    return {full.rsplit("/", 1)[-1]: found[full] for full in wanted}


def environment(env, get_parameters=_get_parameters):
    """The script's environment: `env` without easyTDV's two names, with each
    secret under its name. Exits 81 when they cannot be read."""
    names = _names(env.get(NAMES_VAR))
    out = {k: v for k, v in env.items() if k not in (PATH_VAR, NAMES_VAR)}
    if not names:
        return out
    path = env.get(PATH_VAR) or ""
    try:
        if not path.startswith("/easytdv/runs/"):
            raise SecretsError(f"{PATH_VAR} is not a run's path")
        if get_parameters is _get_parameters:
            region = job_region(env)
            out.update(read_secrets(path, names, lambda chunk: _get_parameters(chunk, region)))
        else:
            out.update(read_secrets(path, names, get_parameters))
    except SecretsError as e:
        print(
            f"easytdv: could not read the run's secrets ({', '.join(names)}) from Parameter Store: {e}",
            file=sys.stderr,
        )
        sys.exit(SECRETS_UNREADABLE)
    print(f"easytdv: the script gets the secrets {', '.join(names)} as environment variables", flush=True)
    return out
