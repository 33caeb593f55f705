"""templates/instance/bootstrap.sh in the sandbox and on a fake EC2 machine."""

import re
import subprocess
import time

from tpl_helpers import BOOTSTRAP, INSTALL, Instance


def test_bootstrap_in_the_sandbox_is_fast_and_harmless(tmp_path):
    inst = Instance(tmp_path)
    spy = tmp_path / "system-calls"
    for tool in ("shutdown", "systemctl", "curl"):
        fake = inst.bin / tool
        fake.write_text(f'#!/bin/bash\necho "{tool} $*" >>"{spy}"\nexit 0\n')
        fake.chmod(0o755)
    script = BOOTSTRAP.read_text().replace("__MAX_RUNTIME_MINUTES__", "1440")
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", script],
        env=inst.env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert (inst.home / "bootstrap.done").exists()
    # With EASYTDV_HOME given (the sandbox), the machine is never touched.
    assert not (inst.home / "deadline").exists()
    assert not spy.exists(), spy.read_text()
    assert elapsed < 10


FAKE_EC2_TOOLS = {
    # Every call is logged to $SPY; the state lives in $STATE_DIR.
    "shutdown": 'echo "shutdown $*" >>"$SPY"\n',
    "sleep": 'echo "sleep $*" >>"$SPY"\n',
    "systemctl": (
        'echo "systemctl $*" >>"$SPY"\nif [ "$1" = cat ] && [ "$2" != amazon-ssm-agent.service ]; then exit 1; fi\n'
    ),
    "curl": (
        'echo "curl $*" >>"$SPY"\n'
        'case "$*" in\n'
        '  *"-X PUT"*) [ -n "$IMDS_DOWN" ] && exit 7; echo token-123 ;;\n'
        "  *security-credentials/*)\n"
        '    n=$(( $(cat "$STATE_DIR/polls" 2>/dev/null || echo 0) + 1 )); echo $n >"$STATE_DIR/polls"\n'
        '    [ "$n" -ge "$CREDS_AFTER" ] || exit 22\n'
        '    echo "easytdv-role" ;;\n'
        "esac\n"
    ),
}


def _bootstrap_on_fake_ec2(tmp_path, **extra):
    inst = Instance(tmp_path)
    spy = tmp_path / "system-calls"
    state = tmp_path / "state"
    state.mkdir()
    for tool, body in FAKE_EC2_TOOLS.items():
        fake = inst.bin / tool
        fake.write_text("#!/bin/bash\n" + body + "exit 0\n")
        fake.chmod(0o755)
    script = BOOTSTRAP.read_text().replace("__MAX_RUNTIME_MINUTES__", "90")
    settings = {"CREDS_AFTER": "3", "IMDS_DOWN": "", **extra}
    env = inst.env(EASYTDV_BOOTSTRAP_ASSUME_EC2="1", SPY=str(spy), STATE_DIR=str(state), **settings)
    result = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (inst.home / "bootstrap.done").exists()
    # The safety deadline, for install.sh/train.sh (failure shutdown, retry).
    deadline = int((inst.home / "deadline").read_text())
    assert abs(deadline - (time.time() + 90 * 60)) < 30
    return result, spy.read_text().splitlines()


def test_bootstrap_on_ec2_waits_for_credentials_then_restarts_the_agent(tmp_path):
    result, calls = _bootstrap_on_fake_ec2(tmp_path)
    assert calls[0].startswith("shutdown -h +90 ")
    polls = [c for c in calls if "security-credentials/" in c]
    assert len(polls) == 3
    assert all("X-aws-ec2-metadata-token: token-123" in c for c in polls)
    assert calls[-1] == "systemctl restart amazon-ssm-agent.service"
    assert "credentials visible (easytdv-role)" in result.stdout


def test_bootstrap_on_ec2_without_metadata_skips_the_agent_restart(tmp_path):
    result, calls = _bootstrap_on_fake_ec2(tmp_path, IMDS_DOWN="1")
    assert calls[0].startswith("shutdown -h +90 ")
    assert not any(c.startswith("systemctl restart") for c in calls)
    assert not any("security-credentials" in c for c in calls)
    assert "not on EC2" in result.stdout


def test_the_user_datas_run_time_is_reported_once_by_install_sh(tmp_path):
    inst = Instance(tmp_path)
    script = BOOTSTRAP.read_text().replace("__MAX_RUNTIME_MINUTES__", "1440")
    done = subprocess.run(["bash", "-c", script], env=inst.env(), cwd=tmp_path, capture_output=True, timeout=30)
    assert done.returncode == 0
    seconds = (inst.home / "bootstrap.seconds").read_text()
    assert re.fullmatch(r"\d+\.\d{3}\n", seconds), seconds
    inst.upload_inputs("print(1)\n", "")
    first = inst.run(INSTALL)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"easytdv: phase boot {seconds.strip()}\n" in first.stdout
    # A retry of the install does not count the start-up again.
    again = inst.run(INSTALL)
    assert again.returncode == 0 and "phase boot" not in again.stdout


def test_the_user_data_stays_well_under_16_kb():
    # RunInstances takes at most 16 KB of user data (before base64); the
    # instance scripts come over SSM, fetched from S3, not in the user data.
    data = BOOTSTRAP.read_bytes().replace(b"__MAX_RUNTIME_MINUTES__", b"2880")
    assert len(data) < 8 * 1024, len(data)
