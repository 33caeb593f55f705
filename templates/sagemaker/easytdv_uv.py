"""easyTDV: a SageMaker job's project installed exactly from its uv.lock
(issue 21), as install.sh's `uv sync --frozen` does on EC2.

The app sends the project with its `pyproject.toml` and `uv.lock` at the root,
an empty `requirements.txt` (so the container installs nothing itself), and
EASYTDV_REQUIREMENTS=uv.lock in the job's Environment. The launcher calls
`install()` before it becomes the script:

1. uv, pinned: the one on PATH when it is that version, else its manylinux
   wheel from PyPI, checked against the SHA-256 easyTDV ships (the same as
   install.sh's: a checksum read from PyPI's own answer would vouch for
   nothing), its binary unpacked to /tmp;
2. `uv export --frozen --no-emit-project`: every locked package with its
   hashes, nothing resolved again (the lock must match pyproject.toml);
3. `uv pip install --no-deps --require-hashes` of that list into the job's
   Python (AWS's container keeps what it has and the lock does not name, as
   `--inexact` does on EC2).

Once per machine: the processes torchrun starts wait for the first one's
install (a file lock) and reuse it. Exit code 5 when it fails (the script
did not start), with the reason on stderr, as install.sh.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

UV_PIN = "0.13.9"
# uv's manylinux wheels on PyPI: install.sh's UV_WHEEL_SHA256_<arch> (a test keeps them equal).
UV_WHEEL_SHA256 = {
    "x86_64": "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
    "aarch64": "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe",
}
INSTALL_FAILED = 5
LOCK_VAR = "EASYTDV_REQUIREMENTS"
STATE_DIR = os.path.join(tempfile.gettempdir(), "easytdv-uv")


class InstallError(Exception):
    pass


def uv_version(path):
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError:
        return None
    parts = out.split()
    return parts[1] if len(parts) > 1 else None


def fetch_uv(dest, arch, index, want, urlopen=None):
    """uv's wheel for `arch` from `index`, checked against `want`; the unpacked binary's path."""
    import urllib.request
    import zipfile

    urlopen = urlopen or urllib.request.urlopen
    url = f"{index.rstrip('/')}/pypi/uv/{UV_PIN}/json"
    with urlopen(url, timeout=30) as r:
        files = json.loads(r.read().decode("utf-8"))["urls"]
    wheels = sorted(
        (f for f in files if f["filename"].endswith(f"_{arch}.whl") and "manylinux" in f["filename"]),
        key=lambda f: f["filename"],
    )
    if not wheels:
        raise InstallError(f"no uv {UV_PIN} wheel for {arch} on {index}")
    os.makedirs(dest, exist_ok=True)
    part = os.path.join(dest, wheels[0]["filename"] + ".part")
    digest = hashlib.sha256()
    with urlopen(wheels[0]["url"], timeout=300) as r, open(part, "wb") as out:
        for block in iter(lambda: r.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != want:
        os.unlink(part)
        raise InstallError(
            f"{wheels[0]['filename']} is not the uv wheel easyTDV knows "
            f"(SHA-256 {digest.hexdigest()}, expected {want}): not used"
        )
    binary = os.path.join(dest, "uv")
    with zipfile.ZipFile(part) as z, z.open(f"uv-{UV_PIN}.data/scripts/uv") as src, open(binary, "wb") as out:
        shutil.copyfileobj(src, out)
    os.chmod(binary, 0o755)
    os.unlink(part)
    return binary


def find_uv(env):
    found = shutil.which("uv", path=env.get("PATH"))
    if found and uv_version(found) == UV_PIN:
        return found
    mine = os.path.join(STATE_DIR, "bin", "uv")
    if os.path.isfile(mine) and uv_version(mine) == UV_PIN:
        return mine
    arch = os.uname().machine
    want = env.get("EASYTDV_UV_WHEEL_SHA256") or UV_WHEEL_SHA256.get(arch)
    if not want:
        raise InstallError(f"easyTDV ships no checksum of uv {UV_PIN} for {arch}")
    index = env.get("EASYTDV_PYPI_URL") or "https://pypi.org"
    print(f"easytdv: fetching uv {UV_PIN} from {index}", flush=True)
    try:
        binary = fetch_uv(os.path.join(STATE_DIR, "bin"), arch, index, want)
    except InstallError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure means "no uv", said in one line
        raise InstallError(f"uv {UV_PIN} could not be fetched: {e}") from None
    if uv_version(binary) != UV_PIN:
        raise InstallError("the fetched uv does not run")
    return binary


def _run(args, cwd, env, what):
    done = subprocess.run(args, cwd=cwd, env=env, check=False)
    if done.returncode != 0:
        raise InstallError(f"{what} failed (exit code {done.returncode}, see above)")


def install_lock(root, env, python=sys.executable):
    """Installs <root>/uv.lock into `python`'s environment (once per machine)."""
    lock = os.path.join(root, "uv.lock")
    with open(lock, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    # Kept in the environment it is about (a new one installs again), else in /tmp.
    prefix = os.path.dirname(os.path.dirname(os.path.abspath(python)))
    here = prefix if os.access(prefix, os.W_OK) else STATE_DIR
    os.makedirs(here, exist_ok=True)
    os.makedirs(STATE_DIR, exist_ok=True)
    done_marker = os.path.join(here, f".easytdv-uv-installed-{digest}")
    with open(os.path.join(here, ".easytdv-uv-install.lock"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if os.path.exists(done_marker):
            return False
        uv = find_uv(env)
        child = {**env, "UV_SYSTEM_CERTS": env.get("UV_SYSTEM_CERTS", "1")}
        listed = os.path.join(STATE_DIR, f"requirements-{digest}.txt")
        print(
            "easytdv: installing exactly what uv.lock says (uv export --frozen, then pip-installed by hash)", flush=True
        )
        _run(
            [uv, "export", "--frozen", "--no-emit-project", "--no-progress", "--quiet", "-o", listed],
            root,
            child,
            "uv export --frozen",
        )
        _run(
            [uv, "pip", "install", "--no-progress", "--no-deps", "--require-hashes", "--python", python, "-r", listed],
            root,
            child,
            "uv pip install",
        )
        with open(done_marker, "w") as f:
            f.write(UV_PIN + "\n")
    return True


def install(root, env):
    """The launcher's call: nothing unless the run's requirements are its
    uv.lock; exits 5 when the install fails."""
    if env.get(LOCK_VAR) != "uv.lock":
        return
    try:
        install_lock(root, env)
    except (OSError, InstallError) as e:
        print(f"easytdv: could not install the project's uv.lock: {e}", file=sys.stderr)
        sys.exit(INSTALL_FAILED)
