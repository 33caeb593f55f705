"""SSM AWS-RunShellScript commands really run in the instance's directory."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import invocation, run_command, wait_done, wait_for


def test_output_exit_code_and_environment(aws, instance, data_dir):
    cid = run_command(
        aws,
        instance,
        "echo hello-out",
        "echo hello-err >&2",
        "pwd",
        'echo "home=$EASYTDV_HOME region=$AWS_DEFAULT_REGION"',
        "command -v aws python3",
        "exit 3",
    )
    inv = wait_done(aws, cid, instance)
    home = str(data_dir / "instances" / instance)
    assert inv["Status"] == "Failed" and inv["StatusDetails"] == "Failed"
    assert inv["ResponseCode"] == 3
    out = inv["StandardOutputContent"].splitlines()
    assert out[:3] == ["hello-out", home, f"home={home} region=eu-west-3"]
    assert out[3].endswith("/.venv/bin/aws") and out[4].endswith("/.venv/bin/python3")
    assert inv["StandardErrorContent"] == "hello-err\n"
    assert inv["ExecutionStartDateTime"] and inv["ExecutionEndDateTime"]
    ok = wait_done(aws, run_command(aws, instance, "true"), instance)
    assert (ok["Status"], ok["ResponseCode"]) == ("Success", 0)


def test_output_is_the_first_24000_and_8000_characters(aws, instance):
    # AWS keeps "the first 24,000 characters written by the plugin to stdout"
    # and the first 8,000 of stderr: a long output's end is not there.
    cid = run_command(aws, instance, "seq 1 20000", "seq 1 5000 >&2", "echo the-real-error >&2")
    inv = wait_done(aws, cid, instance)
    assert len(inv["StandardOutputContent"]) == 24_000
    assert inv["StandardOutputContent"].startswith("1\n2\n3\n")
    assert "20000" not in inv["StandardOutputContent"]
    assert len(inv["StandardErrorContent"]) == 8_000
    assert inv["StandardErrorContent"].startswith("1\n2\n")
    assert "the-real-error" not in inv["StandardErrorContent"]
    plugin = aws.ssm.list_command_invocations(CommandId=cid, Details=True)["CommandInvocations"][0]
    assert plugin["CommandPlugins"][0]["Output"] == inv["StandardOutputContent"][:2_500]


def test_commands_over_4096_bytes_are_refused(aws, instance):
    # No limit is documented for SendCommand's parameters; the sandbox holds
    # them to a conservative bound (tests/sandbox/README.md).
    line = "true # " + "x" * 100
    fits = [line] * (4096 // (len(line) + 1))
    assert wait_done(aws, run_command(aws, instance, *fits), instance)["Status"] == "Success"
    with pytest.raises(ClientError) as err:
        run_command(aws, instance, "true", "#" + "x" * 4096)
    assert err.value.response["Error"]["Code"] == "InvalidParameters"
    assert "4096" in err.value.response["Error"]["Message"]
    assert "commands" in err.value.response["Error"]["Message"]


def test_long_command_is_seen_in_progress(aws, instance):
    cid = run_command(aws, instance, "echo started", "sleep 2", "echo finished")
    running = wait_for(lambda: (i := invocation(aws, cid, instance))["Status"] == "InProgress" and i, what="InProgress")
    assert running["ResponseCode"] == -1 and running["ExecutionEndDateTime"] == ""
    assert aws.ssm.list_commands(CommandId=cid)["Commands"][0]["Status"] == "InProgress"
    done = wait_done(aws, cid, instance)
    assert done["Status"] == "Success"
    assert done["StandardOutputContent"] == "started\nfinished\n"
    listed = aws.ssm.list_command_invocations(CommandId=cid, Details=True)["CommandInvocations"]
    assert listed[0]["Status"] == "Success"
    assert listed[0]["CommandPlugins"][0]["ResponseCode"] == 0


def test_execution_timeout(aws, instance):
    started = time.time()
    cid = run_command(aws, instance, "echo before", "sleep 30", executionTimeout=1)
    inv = wait_done(aws, cid, instance)
    assert time.time() - started < 10
    assert (inv["Status"], inv["StatusDetails"]) == ("TimedOut", "ExecutionTimedOut")
    assert inv["StandardOutputContent"] == "before\n"


def test_cancel_command(aws, instance):
    cid = run_command(aws, instance, "sleep 30")
    wait_for(lambda: invocation(aws, cid, instance)["Status"] == "InProgress", what="InProgress")
    aws.ssm.cancel_command(CommandId=cid)
    inv = wait_done(aws, cid, instance, timeout=5)
    assert inv["Status"] == "Cancelled"


def test_unknown_or_terminated_instance_is_rejected(aws, launch):
    with pytest.raises(ClientError) as err:
        run_command(aws, "i-0123456789abcdef0", "true")
    assert err.value.response["Error"]["Code"] == "InvalidInstanceId"
    iid = launch()
    cid = run_command(aws, iid, "sleep 30")
    wait_for(lambda: invocation(aws, cid, iid)["Status"] == "InProgress", what="InProgress")
    aws.ec2.terminate_instances(InstanceIds=[iid])
    assert wait_done(aws, cid, iid, timeout=5)["Status"] == "Failed"
    with pytest.raises(ClientError) as err:
        run_command(aws, iid, "true")
    assert err.value.response["Error"]["Code"] == "InvalidInstanceId"


def test_command_runs_only_on_its_targets(aws, instance, launch):
    other = launch()
    cid = run_command(aws, other, "echo only-here")
    assert wait_done(aws, cid, other)["Status"] == "Success"
    listed = aws.ssm.list_command_invocations(CommandId=cid)["CommandInvocations"]
    assert [i["InstanceId"] for i in listed] == [other]
    assert aws.ssm.list_commands(CommandId=cid)["Commands"][0]["TargetCount"] == 1
    with pytest.raises(ClientError):
        aws.ssm.get_command_invocation(CommandId=cid, InstanceId=instance)


def test_shutdown_terminates_the_sandbox_instance_and_its_processes(aws, ami, data_dir):
    from test_cli import alive

    from conftest import online

    iid = aws.ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceInitiatedShutdownBehavior="terminate")[
        "Instances"
    ][0]["InstanceId"]
    wait_for(lambda: online(aws, iid), what="Online")
    cid = run_command(aws, iid, "nohup sleep 300 >/dev/null 2>&1 &", "echo $! > bg.pid")
    assert wait_done(aws, cid, iid)["Status"] == "Success"
    bg = int((data_dir / "instances" / iid / "bg.pid").read_text())
    assert alive(bg), "a background process outlives its command, as on EC2"
    run_command(aws, iid, "shutdown -h now")
    state = lambda: aws.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    wait_for(lambda: state() == "terminated", what="terminated")
    wait_for(lambda: not alive(bg), timeout=5, what="background process killed")


@pytest.mark.parametrize("value", ["0", "172801", "1209600", "3600.5", "-5", "007", "1h", ""])
def test_execution_timeout_outside_1_to_172800_is_rejected(aws, instance, value):
    # AWS-RunShellScript's executionTimeout pattern admits 1..172800 (48 h) only.
    with pytest.raises(ClientError) as err:
        run_command(aws, instance, "echo never", executionTimeout=value)
    assert err.value.response["Error"]["Code"] == "InvalidParameters"
    assert "executionTimeout" in err.value.response["Error"]["Message"]
    assert "172800" in err.value.response["Error"]["Message"]


def test_execution_timeout_bounds_are_accepted(aws, instance):
    for value in ("1", "172800"):
        cid = run_command(aws, instance, "echo ok", executionTimeout=value)
        assert wait_done(aws, cid, instance)["Status"] == "Success"
    with pytest.raises(ClientError) as err:  # two values for a String parameter
        aws.ssm.send_command(
            InstanceIds=[instance],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["true"], "executionTimeout": ["60", "60"]},
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameters"


def test_scheduled_shutdown_is_replaced_cancelled_and_fires(aws, ami):
    from conftest import online

    iid = aws.ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceInitiatedShutdownBehavior="stop")[
        "Instances"
    ][0]["InstanceId"]
    wait_for(lambda: online(aws, iid), what="Online")
    state = lambda: aws.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    fast = "export EASYTDV_SANDBOX_SHUTDOWN_MINUTE=1"  # a minute lasts 1 s here
    first = wait_done(aws, run_command(aws, iid, fast, "shutdown -h +2", "shutdown -h +3", "shutdown -c"), iid)
    assert first["Status"] == "Success"
    assert "will shut down in 2 minutes" in first["StandardErrorContent"]
    assert "the shutdown scheduled before is replaced" in first["StandardErrorContent"]
    assert "scheduled shutdown cancelled" in first["StandardErrorContent"]
    time.sleep(4)
    assert state() == "running", "a cancelled shutdown does not fire"
    assert wait_done(aws, run_command(aws, iid, fast, "shutdown -h +1"), iid)["Status"] == "Success"
    wait_for(lambda: state() == "stopped", timeout=15, what="stopped by the scheduled shutdown")
    aws.ec2.terminate_instances(InstanceIds=[iid])


# --- Parameter Store: a run's secrets (issue 21) ------------------------------
SECRET_VALUE = "hf_SANDBOXtestVALUE_42"


def test_a_securestring_is_read_decrypted_by_the_instance_and_never_recorded(aws, data_dir, instance):
    import json

    from conftest import calls

    path = "/easytdv/runs/20261206-101500-a1b2c3/secrets"
    aws.ssm.put_parameter(Name=f"{path}/HF_TOKEN", Value=SECRET_VALUE, Type="SecureString", Overwrite=True)
    plain = aws.ssm.get_parameters(Names=[f"{path}/HF_TOKEN"])["Parameters"][0]
    assert plain["Type"] == "SecureString" and plain["Value"] != SECRET_VALUE, "encrypted unless asked"
    # The machine asks with the instance's own credentials, as train.sh does.
    cid = run_command(
        aws,
        instance,
        f"aws ssm get-parameters --with-decryption --names {path}/HF_TOKEN {path}/NOPE --output json"
        " | python3 -c 'import json,sys,hashlib; d=json.load(sys.stdin); "
        'print(hashlib.sha256(d["Parameters"][0]["Value"].encode()).hexdigest(), d["InvalidParameters"])\'',
    )
    out = wait_done(aws, cid, instance)["StandardOutputContent"]
    import hashlib

    assert out.split()[0] == hashlib.sha256(SECRET_VALUE.encode()).hexdigest()
    assert f"{path}/NOPE" in out
    aws.ssm.delete_parameters(Names=[f"{path}/HF_TOKEN"])
    listed = aws.ssm.describe_parameters(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [path]}])
    assert listed["Parameters"] == []
    recorded = calls(data_dir)
    by_instance = [c for c in recorded if c.get("principal") == f"instance:{instance}"]
    (get,) = [c for c in by_instance if c["action"] == "ssm:GetParameters"]
    assert get["names"] == {"Names": f"{path}/HF_TOKEN,{path}/NOPE"}
    put = [c for c in recorded if c["action"] == "ssm:PutParameter" and path in c.get("names", {}).get("Name", "")]
    assert put and put[-1]["principal"] == "app"
    deleted = [c for c in recorded if c["action"] == "ssm:DeleteParameters"][-1]
    assert deleted["names"] == {"Names": f"{path}/HF_TOKEN"}
    # Names only: the value is in no recorded call, not even PutParameter's.
    assert SECRET_VALUE not in (data_dir / "calls.jsonl").read_text()
    assert all(SECRET_VALUE not in json.dumps(c) for c in recorded)


def test_parameter_stores_limits_are_awss(aws):
    from botocore.config import Config

    from conftest import client

    # As botocore's own checks would not stop them (CloudFormation, another SDK).
    raw = client(aws.endpoint, "ssm", config=Config(parameter_validation=False))
    with pytest.raises(raw.exceptions.ClientError) as e:
        raw.put_parameter(Name="/easytdv/runs/r/secrets/BIG", Value="x" * 4097, Type="SecureString")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"].startswith(
        "Standard tier parameters support a maximum parameter value of 4096 characters."
    )
    raw.put_parameter(Name="/easytdv/runs/r/secrets/FITS", Value="é" * 4096, Type="SecureString", Overwrite=True)
    names = [f"/easytdv/runs/r/secrets/N{i}" for i in range(11)]
    with pytest.raises(raw.exceptions.ClientError) as e:
        raw.delete_parameters(Names=names)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 10" in e.value.response["Error"]["Message"]
    raw.delete_parameters(Names=["/easytdv/runs/r/secrets/FITS"])
