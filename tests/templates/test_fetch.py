"""fetch.sh, the SSM command's few lines: the scripts come from the run's
prefix, each is checked against the SHA-256 the app put in the command, and
only then does one run. Fake instance, fake S3 (tpl_helpers)."""

import re

from tpl_helpers import BUCKET, MACHINE_FILES, OWNER, PREFIX, TEMPLATES, TRAIN_OK, Instance, fetch_command

SCRIPTS_KEY = f"{PREFIX}/scripts"


def installed(tmp_path):
    inst = Instance(tmp_path / "m")
    inst.upload_inputs(TRAIN_OK, "# nothing to install\n")
    inst.upload_scripts()
    return inst


def test_the_command_fetches_checks_and_runs_the_scripts(tmp_path):
    inst = installed(tmp_path)
    result = inst.command("install.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("easytdv: requirements installed")
    for name in MACHINE_FILES:
        assert (inst.home / "lib" / name).read_bytes() == (TEMPLATES / "instance" / name).read_bytes()
    fetched = [c for c in inst.calls() if "/scripts/" in c]
    # The helper with one AWS CLI call, naming the bucket's owner; the others through the checked helper.
    assert fetched[0] == (
        f"aws s3api get-object --bucket {BUCKET} --key {SCRIPTS_KEY}/easytdv_helper.py "
        f"--expected-bucket-owner {OWNER} {inst.home}/lib/.fetched/easytdv_helper.py"
    ), fetched
    assert sorted(fetched[1:]) == sorted(f"helper GET s3://{BUCKET}/{SCRIPTS_KEY}/{n}" for n in MACHINE_FILES[1:])
    assert sorted(o for o in inst.owners() if "/scripts/" in o) == [
        f"GET {SCRIPTS_KEY}/{n} {OWNER}" for n in sorted(MACHINE_FILES[1:])
    ]

    # The training's command finds them all on the machine, unchanged: nothing is fetched.
    inst.reset_records()
    result = inst.command("train.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "easytdv: training finished" in result.stdout
    assert not [c for c in inst.calls() if "/scripts/" in c], inst.calls()


def test_a_tampered_script_is_refused_and_nothing_runs(tmp_path):
    inst = installed(tmp_path)
    stored = inst.inputs / "scripts" / "install.sh"
    stored.write_text(stored.read_text().replace("set -uo pipefail", f"set -uo pipefail\ntouch '{tmp_path}/ran'", 1))
    result = inst.command("install.sh")
    assert result.returncode == 80, result.stdout + result.stderr
    want = fetch_command("install.sh")
    expected = re.search(r"^([0-9a-f]{64}) install\.sh$", want, re.M).group(1)
    assert re.search(
        rf"^easytdv: s3://{BUCKET}/{SCRIPTS_KEY}/install\.sh is not the script easyTDV sent "
        rf"\(SHA-256 [0-9a-f]{{64}}, expected {expected}\): it was not run$",
        result.stderr,
        re.M,
    ), result.stderr
    assert not (tmp_path / "ran").exists()
    assert not (inst.home / "lib" / "install.sh").exists()
    assert not (inst.home / "logs" / "install.log").exists()


def test_a_copy_changed_on_the_machine_is_fetched_again(tmp_path):
    inst = installed(tmp_path)
    assert inst.command("install.sh").returncode == 0
    # Anything running as root on the machine (train.py) could change the copies.
    copy = inst.home / "lib" / "train.sh"
    copy.write_text(copy.read_text().replace("set -uo pipefail", f"set -uo pipefail\ntouch '{tmp_path}/ran'", 1))
    inst.reset_records()
    result = inst.command("train.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "ran").exists()
    assert copy.read_bytes() == (TEMPLATES / "instance" / "train.sh").read_bytes()
    assert [c for c in inst.calls() if "/scripts/" in c] == [f"helper GET s3://{BUCKET}/{SCRIPTS_KEY}/train.sh"]


def test_a_bucket_of_another_owner_is_not_used(tmp_path):
    inst = installed(tmp_path)
    result = inst.command("install.sh", EASYTDV_BUCKET_OWNER="999999999999")
    assert result.returncode == 80
    assert f"easytdv: could not download the script s3://{BUCKET}/{SCRIPTS_KEY}/easytdv_helper.py" in result.stderr
    assert not (inst.home / "lib" / "easytdv_helper.py").exists()


def test_the_helper_names_the_owner_and_s3_refuses_another(tmp_path):
    inst = installed(tmp_path)
    assert inst.command("install.sh").returncode == 0
    inst.reset_records()
    # The scripts are on the machine; the helper's own downloads name the owner.
    result = inst.command("train.sh", EASYTDV_BUCKET_OWNER="999999999999")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"GET {PREFIX}/train.py 999999999999" in inst.owners()
    assert "easytdv: could not download train.py" in result.stderr


def test_the_command_is_a_few_lines():
    prelude = (
        "export EASYTDV_BUCKET='easytdv-123456789012-eu-west-3-0a1b2c3d' "
        "EASYTDV_PREFIX='easytdv/runs/20261126-142700-a1b2c3' EASYTDV_BUCKET_OWNER='123456789012' "
        "AWS_DEFAULT_REGION='eu-west-3' EASYTDV_IMAGE_ID='ami-0123456789abcdef0' "
        f"EASYTDV_CACHE_KEY='{'a' * 64}' EASYTDV_CACHE_SHA256='{'b' * 64}' EASYTDV_CACHE_ARCHIVE='{'a' * 64}.tar.zst' "
        "EASYTDV_CACHE_SAVE='1' EASYTDV_CACHE_PREFIX='easytdv/cache' EASYTDV_IDLE_AFTER_FAILURE_MIN='60'"
    )
    size = len((prelude + "\n" + fetch_command("install.sh")).encode())
    # The sandbox refuses SendCommand's commands over 4,096 bytes (tests/sandbox/README.md).
    assert size < 3_000, size
