#!/bin/bash
# easyTDV: prepare the run's Python environment on the instance.
#
# Run by SSM (AWS-RunShellScript) after the core's one-line prelude of exports:
#   EASYTDV_BUCKET, EASYTDV_PREFIX      the run's bucket and key prefix (required)
#   AWS_DEFAULT_REGION                  the run's region
#   EASYTDV_IMAGE_ID                    the AMI id (part of the environment cache key)
#   EASYTDV_HOME                        base directory (default /opt/easytdv; the sandbox sets it)
#   EASYTDV_CACHE_PREFIX                cache key prefix in the bucket (default easytdv/cache)
#   EASYTDV_IDLE_AFTER_FAILURE_MIN      shut the machine down this long after a failure (default 60)
#   EASYTDV_LOG_INTERVAL                seconds between log uploads (default 5)
#   EASYTDV_LOG_CHUNK_BYTES             size of a sealed log chunk (default 1048576)
#
# 1 download   train.py + requirements.txt, one `aws s3 cp --recursive` call
# 2 python     the Deep Learning AMI's PyTorch environment, else python3.12
#              (installed with dnf when missing), else python3 >= 3.10
# 3 env        uv (pinned; from PATH or PyPI) creates $EASYTDV_HOME/venv;
#              `python -m venv` + pip when uv cannot be had
# 4 cache      s3://$EASYTDV_BUCKET/$EASYTDV_CACHE_PREFIX/<key>.tar.zst + <key>.json:
#              restored before the install (offline install), saved after it
# 5 install    `uv pip install -r requirements.txt` (pip's format), pip as fallback
# Everything it prints is also in $EASYTDV_HOME/logs/install.log as
# "<epoch ms> <o|e> <text>" lines, shipped in chunks to outputs/_logs/install/.
#
# Lines the core may parse (stdout): "easytdv: phase <name> <seconds>",
# "easytdv: python <version>", "easytdv: installer uv <version>",
# "easytdv: installer pip (<why>)", "easytdv: no requirements",
# "easytdv: cache hit <key> <created>", "easytdv: cache miss <key>",
# "easytdv: cache corrupt <key>, installing afresh", "easytdv: cache saved <key> <bytes>",
# "easytdv: using the preinstalled torch <version>",
# "easytdv: machine will shut down at <ISO time> unless you retry",
# "easytdv: requirements installed" (the last line of a success).
# Exit codes: 0 ok, 2 missing setting, 3 download failed, 4 no environment
# (venv could not be created), 5 the requirements could not be installed,
# 6 no Python >= 3.10 on the machine and none could be installed.
# On any failure the machine schedules its own shutdown (see templates/README.md).
#
# AWS-RunShellScript may start the script with sh; re-run it with bash.
if [ -z "${BASH_VERSION:-}" ] && [ -f "$0" ]; then exec bash "$0"; fi
set -uo pipefail

UV_PIN="0.13.9"

# >>> easytdv common >>> (the same in install.sh and train.sh: tests/templates checks it)
if [ -n "${EASYTDV_HOME:-}" ]; then home_given=1; else home_given=0; fi
EASYTDV_HOME="${EASYTDV_HOME:-/opt/easytdv}"
# SSM runs commands as root, often without HOME; pip, uv and the AWS CLI want one.
export HOME="${HOME:-$EASYTDV_HOME}"
# Temporary files on the disk: /tmp is RAM-backed (tmpfs) on Amazon Linux 2023.
export TMPDIR="$EASYTDV_HOME/tmp"
LOG_DIR="$EASYTDV_HOME/logs"
HELPER="$EASYTDV_HOME/lib/easytdv_helper.py"
mkdir -p "$EASYTDV_HOME" "$TMPDIR" "$LOG_DIR" "$EASYTDV_HOME/lib"

say() { echo "easytdv: $*"; }
warn() { echo "easytdv: $*" >&2; }
fail() { # fail <exit code> <message>
    echo "easytdv: $2" >&2
    exit "$1"
}
now_us() { # wall clock in microseconds
    if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME//[!0-9]/}"; else date +%s%6N; fi
}
phase_line() { # phase_line <name> <microseconds>
    printf 'easytdv: phase %s %d.%03d\n' "$1" $(($2 / 1000000)) $((($2 / 1000) % 1000))
}
utc_iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac }

# --- The machine's own shutdown (the instance terminates when it powers off) --
# Allowed on a real instance (EASYTDV_HOME not given, root), in the local
# sandbox (its `shutdown` acts on the sandbox instance), or when
# EASYTDV_SELF_SHUTDOWN=1 (tests, with a fake `shutdown`); never when a
# developer runs a script with EASYTDV_HOME on their own machine.
self_shutdown_allowed() {
    case "${EASYTDV_SELF_SHUTDOWN:-}" in 1) ;; 0) return 1 ;; *)
        if [ -z "${EASYTDV_SANDBOX_INSTANCE_ID:-}" ] && { [ "$home_given" = 1 ] || [ "$(id -u)" != 0 ]; }; then
            return 1
        fi ;;
    esac
    command -v shutdown >/dev/null 2>&1
}
SHUTDOWN_MARK="$EASYTDV_HOME/shutdown.scheduled"
deadline() { # the max-runtime deadline bootstrap.sh recorded (epoch seconds)
    local d
    d="$(cat "$EASYTDV_HOME/deadline" 2>/dev/null)"
    is_uint "$d" && echo "$d"
}
shutdown_at() { # shutdown_at <epoch seconds> <reason>: prints the time it was set for
    local now mins
    now="$(date +%s)"
    mins=$((($1 - now + 59) / 60))
    [ "$mins" -ge 1 ] || mins=1
    shutdown -h "+$mins" "easyTDV: $2" >/dev/null 2>&1 || return 1
    echo $((now + mins * 60))
}
failure_shutdown() { # after a failure: min(deadline, now + idle minutes)
    self_shutdown_allowed || return 0
    local idle at d when
    idle="${EASYTDV_IDLE_AFTER_FAILURE_MIN:-60}"
    is_uint "$idle" || idle=60
    at=$(($(date +%s) + idle * 60))
    d="$(deadline)" && [ "$d" -lt "$at" ] && at="$d"
    if when="$(shutdown_at "$at" "the run failed and nobody retried it")"; then
        echo "$when failure" >"$SHUTDOWN_MARK"
        say "machine will shut down at $(utc_iso "$when") unless you retry"
    else
        warn "could not schedule the machine's shutdown after the failure"
    fi
}
restore_safety_shutdown() { # a retry: back to the max-runtime shutdown
    [ -f "$SHUTDOWN_MARK" ] || return 0
    self_shutdown_allowed || return 0
    local d when
    rm -f "$SHUTDOWN_MARK"
    if d="$(deadline)" && [ "$d" -gt "$(date +%s)" ] && when="$(shutdown_at "$d" "maximum run time reached")"; then
        say "retry: the machine's shutdown is back at the maximum run time, $(utc_iso "$when")"
    else
        shutdown -c >/dev/null 2>&1 || true
        say "retry: the machine's scheduled shutdown was cancelled"
    fi
}

# --- The combined log, shipped to S3 in chunks while the script runs ---------
run_logged() { # run_logged <name> [--raw]: re-run this script under the log helper, once
    [ "${EASYTDV_LOG_WRAPPED:-}" = 1 ] && return 0
    local interval="${EASYTDV_LOG_INTERVAL:-5}" chunk="${EASYTDV_LOG_CHUNK_BYTES:-1048576}" args
    if ! { [ -f "$0" ] && grep -q EASYTDV_LOG_WRAPPED "$0" 2>/dev/null; }; then
        say "no live log: the script is not run from a file"
        return 0
    fi
    # install.sh (re)writes the helper; train.sh uses the copy it left.
    if declare -F write_helper >/dev/null; then write_helper; fi
    if ! { command -v python3 >/dev/null 2>&1 && [ -f "$HELPER" ] && python3 "$HELPER" check; }; then
        say "no live log: python3 (3.8 or newer) or $HELPER is missing on this machine"
        return 0
    fi
    [[ "$interval" =~ ^[0-9]+(\.[0-9]+)?$ ]] || interval=5
    is_uint "$chunk" && [ "$chunk" -ge 1 ] || chunk=1048576
    args=(--log "$LOG_DIR/$1.log")
    if [ "${2:-}" = --raw ]; then
        args+=(--raw-out "$LOG_DIR/$1-stdout.log" --raw-err "$LOG_DIR/$1-stderr.log")
    fi
    if [ -n "${EASYTDV_BUCKET:-}" ] && [ -n "${EASYTDV_PREFIX:-}" ]; then
        args+=(--dest "s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}/outputs/_logs/$1/"
            --interval "$interval" --chunk-bytes "$chunk")
    fi
    export EASYTDV_LOG_WRAPPED=1
    exec python3 "$HELPER" run "${args[@]}" -- bash "$0"
}
# <<< easytdv common <<<

# The helper (templates/instance/easytdv_helper.py, verbatim): the combined
# log and its chunked upload, the cache key, the cache description, uv's download.
write_helper() {
    cat >"$HELPER.tmp" <<'EASYTDV_HELPER' && mv -f "$HELPER.tmp" "$HELPER"
"""easyTDV instance helper: install.sh writes it to $EASYTDV_HOME/lib/ (Python 3.8+, stdlib only).

install.sh embeds this file verbatim (tests/templates checks the copy); train.sh
uses the copy install.sh wrote.

run     run a command; tee its stdout/stderr; write the timestamped combined
        log ("<epoch ms> <o|e> <text>" per line) and ship it to S3 in chunks
reqs    normalise a requirements file (what the cache key hashes)
key     the environment cache key
meta    write / size / read a cache description (JSON)
uv      fetch the pinned uv wheel from PyPI's JSON API and unpack uv
report  name==version of what a pip --report installed
"""

import hashlib
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
import zipfile


def _ms():
    return int(time.time() * 1000)


def _write_all(fd, data):
    try:
        while data:
            n = os.write(fd, data)
            data = data[n:]
    except OSError:
        pass  # SSM stopped reading: keep logging


class Shipper:
    """Uploads the log as fixed-size chunks: <dest><6-digit index>.log.

    A chunk is sealed once full and never uploaded again; only the last,
    growing chunk is re-uploaded when it changed. State survives a retry of
    the script on the same machine (the log is appended to)."""

    def __init__(self, log, dest, chunk, state, stage):
        self.log, self.dest, self.chunk = log, dest, max(1, chunk)
        self.state_path, self.stage = state, stage
        self.sealed, self.partial = 0, None
        self.warned = False
        try:
            with open(state) as f:
                saved = json.load(f)
            if saved.get("chunk") == self.chunk:
                self.sealed = int(saved["sealed"])
                self.partial = saved.get("partial")
        except (OSError, ValueError, KeyError, TypeError):
            pass

    def once(self):
        try:
            size = os.path.getsize(self.log)
        except OSError:
            return True
        if size < self.sealed * self.chunk:  # the log was replaced
            self.sealed, self.partial = 0, None
        full = size // self.chunk
        rest = size - full * self.chunk
        todo = [(i, self.chunk) for i in range(self.sealed, full)]
        if rest and self.partial != [full, rest]:
            todo.append((full, rest))
        if not todo:
            return True
        os.makedirs(self.stage, exist_ok=True)
        for name in os.listdir(self.stage):
            os.unlink(os.path.join(self.stage, name))
        with open(self.log, "rb") as src:
            for index, length in todo:
                src.seek(index * self.chunk)
                with open(os.path.join(self.stage, f"{index:06d}.log"), "wb") as out:
                    out.write(src.read(length))
        cmd = ["aws", "s3", "cp", "--recursive", "--only-show-errors", self.stage + "/", self.dest]
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            ok, why = done.returncode == 0, done.stderr.decode("utf-8", "replace").strip()
        except OSError as e:
            ok, why = False, str(e)
        if not ok:
            if not self.warned:
                self.warned = True
                _write_all(2, (f"easytdv: could not upload the log to {self.dest}: {why[-300:]}\n").encode())
            return False
        self.sealed = full
        self.partial = [full, rest] if rest else None
        try:
            with open(self.state_path + ".tmp", "w") as f:
                json.dump({"chunk": self.chunk, "sealed": self.sealed, "partial": self.partial}, f)
            os.replace(self.state_path + ".tmp", self.state_path)
        except OSError:
            pass
        return True


_BREAK = re.compile(rb"\r\n|\r|\n")


class LineLog:
    """Splits each stream into lines (\\n, \\r\\n or a lone \\r) and appends
    "<ms> <tag> <text>\\n" to the combined log."""

    MAX = 65536

    def __init__(self, path):
        self.out = open(path, "ab")
        self.pending = {}
        self.lock = threading.Lock()

    def feed(self, tag, data):
        buf = self.pending.get(tag, b"") + data
        hold = b""
        if buf.endswith(b"\r"):  # maybe the \r of a \r\n split across reads
            buf, hold = buf[:-1], b"\r"
        lines = _BREAK.split(buf)
        rest = lines.pop()
        if len(rest) >= self.MAX:
            lines.append(rest)
            rest = b""
        self.pending[tag] = rest + hold
        self._write(tag, lines)

    def close_stream(self, tag):
        rest = self.pending.pop(tag, b"")
        rest = rest[:-1] if rest.endswith(b"\r") else rest
        if rest:
            self._write(tag, [rest])

    def _write(self, tag, lines):
        if not lines:
            return
        stamp = f"{_ms()} {tag} ".encode()
        data = b"".join(stamp + line + b"\n" for line in lines)
        with self.lock:
            try:
                self.out.write(data)
                self.out.flush()
            except OSError:
                pass


def cmd_run(argv):
    opts, cmd = {}, []
    i = 0
    while i < len(argv):
        if argv[i] == "--":
            cmd = argv[i + 1 :]
            break
        opts[argv[i].lstrip("-")] = argv[i + 1]
        i += 2
    log = LineLog(opts["log"])
    raw = {}
    for tag, key in (("o", "raw-out"), ("e", "raw-err")):
        if opts.get(key):
            try:
                raw[tag] = open(opts[key], "wb")
            except OSError:
                pass
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def forward(signum, frame):
        try:
            proc.send_signal(signum)
        except OSError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)

    shipper, stop, thread = None, threading.Event(), None
    if opts.get("dest"):
        base = opts["log"]
        shipper = Shipper(
            opts["log"],
            opts["dest"],
            int(opts.get("chunk-bytes") or 1048576),
            base + ".ship.json",
            os.path.join(os.path.dirname(base), ".ship-" + os.path.basename(base)),
        )
        interval = max(0.05, float(opts.get("interval") or 5))

        def loop():
            while not stop.wait(interval):
                shipper.once()

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, ("o", 1))
    sel.register(proc.stderr, selectors.EVENT_READ, ("e", 2))
    while sel.get_map():
        for key, _ in sel.select(timeout=1.0):
            tag, fd = key.data
            try:
                data = os.read(key.fd, 65536)
            except InterruptedError:
                continue
            if not data:
                sel.unregister(key.fileobj)
                log.close_stream(tag)
                continue
            _write_all(fd, data)
            if tag in raw:
                try:
                    raw[tag].write(data)
                    raw[tag].flush()
                except OSError:
                    pass
            log.feed(tag, data)
    while True:
        try:
            rc = proc.wait()
            break
        except InterruptedError:
            continue
    if thread is not None:
        stop.set()
        thread.join()
        if not shipper.once():
            time.sleep(1)
            shipper.once()
    return 128 - rc if rc < 0 else rc


def normalised_requirements(path):
    """pip's requirements format, as the key sees it: comments, blank lines and
    surrounding whitespace dropped, runs of spaces made one, continuation lines
    joined; the order is kept (uv gives earlier requirements priority)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    text = re.sub(r"\\\r?\n", "", text)
    lines = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)
        line = " ".join(line.split())
        if line:
            lines.append(line)
    return lines


def cache_key(norm, python, arch, image):
    text = "easytdv-env-cache 1\npython {}\narch {}\nimage {}\nrequirements\n{}\n".format(
        python,
        arch,
        image,
        "\n".join(norm),
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cmd_reqs(argv):
    lines = normalised_requirements(argv[0])
    with open(argv[1], "w", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))
    print(len(lines))
    return 0


def cmd_key(argv):
    norm_path, python, arch, image = argv
    with open(norm_path, encoding="utf-8") as f:
        norm = f.read().splitlines()
    print(cache_key(norm, python, arch, image))
    return 0


def cmd_meta(argv):
    if argv[0] == "write":
        out, key, norm_path, python, arch, image, installer, archive, size = argv[1:]
        with open(norm_path, encoding="utf-8") as f:
            reqs = f.read()
        meta = {
            "key": key,
            "requirements": reqs,
            "python": python,
            "arch": arch,
            "image": image,
            "installer": installer,
            "archive": archive,
            "size": int(size),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with open(out, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        return 0
    if argv[0] == "sized":  # sized SRC SIZE OUT: the same description, with the archive's size
        with open(argv[1], encoding="utf-8") as f:
            meta = json.load(f)
        meta["size"] = int(argv[2])
        with open(argv[3], "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        return 0
    # read: print "<archive> <created>"; exit 1 when unreadable
    try:
        with open(argv[1], encoding="utf-8") as f:
            meta = json.load(f)
        archive, created = meta["archive"], meta["created"]
        if not re.match(r"^[0-9a-f]{64}\.tar\.(zst|gz)$", archive) or not archive.startswith(argv[2]):
            raise ValueError(archive)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"unreadable sidecar: {e}", file=sys.stderr)
        return 1
    print(archive, created)
    return 0


def cmd_uv(argv):
    """uv VERSION DEST_DIR INDEX_URL ARCH: the manylinux wheel for ARCH, checked
    against PyPI's sha256, its uv binary unpacked to DEST_DIR/uv."""
    import urllib.request

    version, dest, index, arch = argv
    url = "{}/pypi/uv/{}/json".format(index.rstrip("/"), version)
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            files = json.loads(r.read().decode("utf-8"))["urls"]
    except Exception as e:  # noqa: BLE001 - any failure means "no uv", said in one line
        print(f"{url}: {e}", file=sys.stderr)
        return 1
    wheels = sorted(
        (f for f in files if f["filename"].endswith(f"_{arch}.whl") and "manylinux" in f["filename"]),
        key=lambda f: f["filename"],
    )
    if not wheels:
        print(f"no uv {version} wheel for {arch} on {index}", file=sys.stderr)
        return 1
    try:
        return _unpack_uv(version, dest, wheels[0])
    except Exception as e:  # noqa: BLE001
        print("{}: {}".format(wheels[0]["url"], e), file=sys.stderr)
        return 1


def _unpack_uv(version, dest, wheel):
    import urllib.request

    os.makedirs(dest, exist_ok=True)
    tmp = os.path.join(dest, wheel["filename"] + ".part")
    digest = hashlib.sha256()
    with urllib.request.urlopen(wheel["url"], timeout=300) as r, open(tmp, "wb") as out:
        while True:
            block = r.read(1 << 20)
            if not block:
                break
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != wheel["digests"]["sha256"]:
        os.unlink(tmp)
        print("uv wheel checksum mismatch", file=sys.stderr)
        return 1
    member = f"uv-{version}.data/scripts/uv"
    with zipfile.ZipFile(tmp) as z, z.open(member) as src, open(os.path.join(dest, "uv.part"), "wb") as out:
        while True:
            block = src.read(1 << 20)
            if not block:
                break
            out.write(block)
    os.chmod(os.path.join(dest, "uv.part"), 0o755)
    os.replace(os.path.join(dest, "uv.part"), os.path.join(dest, "uv"))
    os.unlink(tmp)
    print(os.path.join(dest, "uv"))
    return 0


def cmd_report(argv):
    with open(argv[0], encoding="utf-8") as f:
        report = json.load(f)
    for item in report.get("install", []):
        meta, info = item.get("metadata", {}), item.get("download_info") or {}
        url, vcs = info.get("url"), info.get("vcs_info")
        if url and vcs:
            print("{}+{}@{}".format(vcs["vcs"], url, vcs["commit_id"]))
        elif url:
            print(url)
        else:
            print("{}=={}".format(meta["name"], meta["version"]))
    return 0


def main(argv):
    commands = {"run": cmd_run, "reqs": cmd_reqs, "key": cmd_key, "meta": cmd_meta, "uv": cmd_uv, "report": cmd_report}
    if not argv or argv[0] == "check":
        return 0 if sys.version_info >= (3, 8) else 1
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
EASYTDV_HELPER
}

run_logged install
# If the log helper ever dies, carry on (and upload) instead of dying on a write.
trap '' PIPE
trap 'rc=$?; [ "$rc" -eq 0 ] || failure_shutdown; exit "$rc"' EXIT
write_helper || fail 4 "could not write $HELPER"
restore_safety_shutdown

[ -n "${EASYTDV_BUCKET:-}" ] || fail 2 "EASYTDV_BUCKET is not set"
[ -n "${EASYTDV_PREFIX:-}" ] || fail 2 "EASYTDV_PREFIX is not set"
SOURCE="s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}"
CACHE_PREFIX="${EASYTDV_CACHE_PREFIX:-easytdv/cache}"
CACHE_PREFIX="${CACHE_PREFIX#/}"
CACHE_URL="s3://$EASYTDV_BUCKET/${CACHE_PREFIX%/}"
IMAGE_ID="${EASYTDV_IMAGE_ID:-unknown}"
RUN_DIR="$EASYTDV_HOME/run"
VENV="$EASYTDV_HOME/venv"
CACHE_DIR="$EASYTDV_HOME/cache"
WHEELHOUSE="$CACHE_DIR/wheelhouse"
REQ="$RUN_DIR/requirements.txt"
NORM="$CACHE_DIR/requirements.normalised"
export UV_CACHE_DIR="$CACHE_DIR/uv"
# The machine's CA store, like pip and the AWS CLI (a proxy's CA works too).
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$CACHE_DIR/pip}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
mkdir -p "$RUN_DIR" "$CACHE_DIR"
cache_us=0

# --- 1 download: both inputs in one call --------------------------------------
t0="$(now_us)"
say "downloading inputs from $SOURCE/"
rm -f "$RUN_DIR/train.py" "$REQ"
aws s3 cp --recursive --only-show-errors "$SOURCE/" "$RUN_DIR/" \
    --exclude '*' --include train.py --include requirements.txt
for name in train.py requirements.txt; do
    [ -f "$RUN_DIR/$name" ] || fail 3 "could not download $SOURCE/$name"
done
phase_line download $(($(now_us) - t0))

# --- 2 python -------------------------------------------------------------------
py_version() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null; }
py_recent() { case "$1" in 3.1[0-9].* | 3.[2-9][0-9].*) return 0 ;; *) return 1 ;; esac }
use_python() { # use_python <path> <where it comes from>
    local v
    v="$(py_version "$1")" && py_recent "$v" || return 1
    PY="$1" PY_VERSION="$v" PY_FROM="$2"
}
select_python() {
    local cand torch p
    PY="" DLAMI_ENV="" TORCH_PRE=""
    # The Deep Learning AMI with PyTorch: its environment, with torch in it.
    for cand in ${EASYTDV_DLAMI_PYTHON-/opt/pytorch/bin/python /opt/conda/envs/pytorch/bin/python}; do
        [ -x "$cand" ] || continue
        torch="$("$cand" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null)" || continue
        [ -n "$torch" ] && use_python "$cand" "the Deep Learning AMI's PyTorch environment" || continue
        DLAMI_ENV="$(cd "$(dirname "$cand")/.." && pwd)" TORCH_PRE="$torch"
        return 0
    done
    p="$(command -v python3.12)" && use_python "$p" "python3.12" && return 0
    if command -v dnf >/dev/null 2>&1; then
        say "installing Python 3.12 with dnf"
        if dnf install -y python3.12 python3.12-pip python3.12-pip-wheel || dnf install -y python3.12; then
            hash -r
            p="$(command -v python3.12)" && use_python "$p" "python3.12, installed with dnf" && return 0
        fi
        warn "dnf could not install python3.12"
    fi
    p="$(command -v python3)" && use_python "$p" "python3" && return 0
    return 1
}
t0="$(now_us)"
if ! select_python; then
    v="$(py_version "$(command -v python3 || echo python3)")"
    fail 6 "no Python 3.10 or newer on this machine (python3 is ${v:-missing}, and python3.12 could not be installed)"
fi
say "python $PY_VERSION"
say "interpreter $PY ($PY_FROM)"
phase_line python $(($(now_us) - t0))

# --- 3 env: the installer and the environment ----------------------------------
find_uv() { # sets UV, or UV_WHY
    local cand v out
    UV="" UV_WHY=""
    for cand in "$(command -v uv 2>/dev/null)" "$EASYTDV_HOME/tools/uv-$UV_PIN/uv"; do
        [ -n "$cand" ] && [ -x "$cand" ] || continue
        v="$("$cand" --version 2>/dev/null | awk '{print $2}')"
        if [ "$v" = "$UV_PIN" ]; then UV="$cand" && return 0; fi
    done
    say "fetching uv $UV_PIN from ${EASYTDV_PYPI_URL:-https://pypi.org}"
    if out="$("$PY" "$HELPER" uv "$UV_PIN" "$EASYTDV_HOME/tools/uv-$UV_PIN" \
        "${EASYTDV_PYPI_URL:-https://pypi.org}" "$(uname -m)" 2>&1)"; then
        cand="${out##*$'\n'}"
        v="$("$cand" --version 2>/dev/null | awk '{print $2}')"
        if [ "$v" = "$UV_PIN" ]; then UV="$cand" && return 0; fi
        out="the fetched uv does not run"
    fi
    UV_WHY="uv $UV_PIN could not be fetched: ${out##*$'\n'}"
    return 1
}
create_env() { # create_env: a fresh environment at $VENV for $INSTALLER; sets ENV_PY
    if [ -n "$DLAMI_ENV" ]; then
        # uv ignores packages of a --system-site-packages base (astral-sh/uv#4466)
        # and would download torch again: install into the image's own
        # environment instead (the machine is used for this one run only).
        rm -rf "$VENV"
        ln -s "$DLAMI_ENV" "$VENV" || fail 4 "could not link $VENV to $DLAMI_ENV"
        ENV_PY="$DLAMI_ENV/bin/python"
        return 0
    fi
    rm -rf "$VENV"
    if [ "$INSTALLER" = uv ]; then
        if "$UV" venv --no-progress --python "$PY" "$VENV"; then
            ENV_PY="$VENV/bin/python"
            return 0
        fi
        rm -rf "$VENV"
        INSTALLER=pip PIP_READY=""
        say "installer pip (uv could not create the environment)"
    fi
    "$PY" -m venv "$VENV" || fail 4 "could not create the Python virtual environment $VENV ($PY -m venv failed)"
    ENV_PY="$VENV/bin/python"
}
t0="$(now_us)"
"$PY" "$HELPER" reqs "$REQ" "$NORM" >/dev/null || fail 5 "could not read requirements.txt"
if find_uv; then
    INSTALLER=uv
    say "installer uv $UV_PIN"
else
    INSTALLER=pip
    say "installer pip ($UV_WHY)"
fi
PIP_READY=""
create_env
[ -n "$DLAMI_ENV" ] && say "the environment is the Deep Learning AMI's $DLAMI_ENV (torch $TORCH_PRE)"
phase_line env $(($(now_us) - t0))

# --- 4/5 cache and install ----------------------------------------------------
pip_prepare() { # pip in the environment, upgraded once
    [ -n "$PIP_READY" ] && return 0
    PIP_READY=1
    "$ENV_PY" -m pip install --upgrade --retries 1 --timeout 15 pip \
        || warn "could not upgrade pip in the environment; going on with $("$ENV_PY" -m pip --version 2>&1 | cut -d' ' -f2)"
}
install_online() {
    cd "$RUN_DIR" || return 1
    if [ "$INSTALLER" = uv ]; then
        "$UV" pip install --no-progress --python "$ENV_PY" -r "$REQ" && return 0
        say "installer pip (uv could not install the requirements)"
        INSTALLER=pip PIP_READY=""
        create_env
    fi
    pip_prepare
    rm -f "$TMPDIR/pip-report.json"
    if "$ENV_PY" -m pip install --help 2>/dev/null | grep -q -- --report; then
        # The report names what was installed: the wheelhouse of the cache.
        "$ENV_PY" -m pip install --report "$TMPDIR/pip-report.json" -r "$REQ"
    else
        "$ENV_PY" -m pip install -r "$REQ"
    fi
}
install_offline() { # from the restored cache only
    cd "$RUN_DIR" || return 1
    if [ "$INSTALLER" = uv ]; then
        if [ -d "$WHEELHOUSE" ]; then
            "$UV" pip install --no-progress --offline --no-index --find-links "$WHEELHOUSE" --python "$ENV_PY" -r "$REQ"
        else
            "$UV" pip install --no-progress --offline --python "$ENV_PY" -r "$REQ"
        fi
    else
        [ -d "$WHEELHOUSE" ] || { say "the cached environment was made by uv, which is not available"; return 1; }
        "$ENV_PY" -m pip install --no-index --find-links "$WHEELHOUSE" -r "$REQ"
    fi
}
cache_corrupt() {
    say "cache object unusable: $1"
    say "cache corrupt $KEY, installing afresh"
}
cache_restore() { # 0 when a cache was restored into $UV_CACHE_DIR or $WHEELHOUSE
    # One GET on a hit: the archive carries its own description.
    local archive="" name names="$KEY.tar.zst $KEY.tar.gz" created restore="$CACHE_DIR/restore"
    command -v zstd >/dev/null 2>&1 || names="$KEY.tar.gz"
    for name in $names; do
        rm -f "$TMPDIR/$name"
        if aws s3 cp --only-show-errors "$CACHE_URL/$name" "$TMPDIR/$name" >/dev/null 2>&1; then
            archive="$name"
            break
        fi
    done
    if [ -z "$archive" ]; then
        say "cache miss $KEY"
        return 1
    fi
    rm -rf "$restore"
    mkdir -p "$restore"
    case "$archive" in
        *.zst)
            if ! command -v zstd >/dev/null 2>&1; then
                rm -f "$TMPDIR/$archive"
                cache_corrupt "zstd is not installed"
                return 1
            fi
            zstd -dcq "$TMPDIR/$archive" | tar -x -C "$restore"
            ;;
        *) tar -xzf "$TMPDIR/$archive" -C "$restore" ;;
    esac
    local unpacked=$?
    rm -f "$TMPDIR/$archive"
    if [ "$unpacked" -ne 0 ]; then
        cache_corrupt "$archive could not be unpacked"
        return 1
    fi
    if ! read -r name created < <("$PY" "$HELPER" meta read "$restore/easytdv-cache.json" "$KEY" 2>/dev/null) \
        || [ -z "$created" ]; then
        cache_corrupt "$archive has no valid easytdv-cache.json"
        return 1
    fi
    rm -rf "$UV_CACHE_DIR" "$WHEELHOUSE"
    if [ -d "$restore/uv" ]; then
        mv "$restore/uv" "$UV_CACHE_DIR"
    elif [ -d "$restore/wheelhouse" ]; then
        mv "$restore/wheelhouse" "$WHEELHOUSE"
    else
        cache_corrupt "$archive holds no cache"
        return 1
    fi
    rm -rf "$restore"
    say "cache hit $KEY $created"
}
cache_save() {
    local what archive size meta="$TMPDIR/cache-$KEY.json" urls
    if [ "$INSTALLER" = uv ]; then
        "$UV" cache prune >/dev/null 2>&1 || warn "uv cache prune failed; saving the cache as it is"
        what=uv
    else
        # A wheelhouse of what pip installed (from pip's cache: no new download).
        rm -rf "$WHEELHOUSE"
        mkdir -p "$WHEELHOUSE"
        if ! mapfile -t urls < <("$PY" "$HELPER" report "$TMPDIR/pip-report.json" 2>/dev/null); then
            say "cache not saved (pip gave no install report)"
            return 0
        fi
        if [ "${#urls[@]}" -gt 0 ] && ! (cd "$RUN_DIR" && "$ENV_PY" -m pip wheel --no-deps --wheel-dir "$WHEELHOUSE" "${urls[@]}"); then
            say "cache not saved (pip could not build the wheelhouse)"
            return 0
        fi
        what=wheelhouse
    fi
    archive="$KEY.tar.zst"
    command -v zstd >/dev/null 2>&1 || archive="$KEY.tar.gz"
    # The description goes inside the archive (read on a hit) and beside it
    # (for listing the cached environments, with the archive's size; inside,
    # the size is 0: unknown yet).
    "$PY" "$HELPER" meta write "$CACHE_DIR/easytdv-cache.json" "$KEY" "$NORM" "$PY_VERSION" "$(uname -m)" \
        "$IMAGE_ID" "$INSTALLER" "$archive" 0 || archive=""
    if [ -z "$archive" ]; then
        :
    elif [ "$archive" = "$KEY.tar.zst" ]; then
        tar -C "$CACHE_DIR" -cf - easytdv-cache.json "$what" | zstd -q -T0 -3 -o "$TMPDIR/$archive.part" || archive=""
    else
        say "zstd is not installed: the cache is stored as .tar.gz"
        tar -C "$CACHE_DIR" -czf "$TMPDIR/$archive.part" easytdv-cache.json "$what" || archive=""
    fi
    if [ -z "$archive" ]; then
        rm -f "$TMPDIR/$KEY".tar.*
        say "cache not saved (could not pack $CACHE_DIR/$what)"
        return 0
    fi
    mv -f "$TMPDIR/$archive.part" "$TMPDIR/$archive"
    size="$(stat -c %s "$TMPDIR/$archive")"
    # The archive first, its description last: a description means a complete archive.
    if aws s3 cp --only-show-errors "$TMPDIR/$archive" "$CACHE_URL/$archive" \
        && "$PY" "$HELPER" meta sized "$CACHE_DIR/easytdv-cache.json" "$size" "$meta" \
        && aws s3 cp --only-show-errors "$meta" "$CACHE_URL/$KEY.json"; then
        say "cache saved $KEY $size"
    else
        say "cache not saved (could not upload it to $CACHE_URL/)"
    fi
    rm -f "$TMPDIR/$archive" "$meta"
}

if [ ! -s "$NORM" ]; then
    say "no requirements"
    phase_line install 0
    phase_line cache 0
else
    KEY="$("$PY" "$HELPER" key "$NORM" "$PY_VERSION" "$(uname -m)" "$IMAGE_ID")" \
        || fail 5 "could not compute the environment's cache key"
    t0="$(now_us)"
    restored=0
    cache_restore && restored=1
    cache_us=$((cache_us + $(now_us) - t0))
    t0="$(now_us)"
    hit=0
    if [ "$restored" = 1 ]; then
        say "installing the requirements from the cache (offline)"
        if install_offline; then
            hit=1
        else
            cache_corrupt "the offline install from it failed"
            rm -rf "$UV_CACHE_DIR" "$WHEELHOUSE"
            create_env
        fi
    fi
    if [ "$hit" = 0 ]; then
        say "installing requirements"
        if ! install_online; then
            if [ "$INSTALLER" = pip ]; then
                fail 5 "pip could not install the requirements (see pip's error above)"
            fi
            fail 5 "uv could not install the requirements (see its error above)"
        fi
    fi
    phase_line install $(($(now_us) - t0))
    if [ "$hit" = 0 ]; then
        t0="$(now_us)"
        cache_save
        cache_us=$((cache_us + $(now_us) - t0))
    fi
    phase_line cache "$cache_us"
fi

if [ -n "$DLAMI_ENV" ]; then
    torch="$("$ENV_PY" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null)"
    if [ "$torch" = "$TORCH_PRE" ]; then
        say "using the preinstalled torch $TORCH_PRE"
    else
        say "torch ${torch:-?} replaced the preinstalled torch $TORCH_PRE (the requirements asked for another version)"
    fi
fi
say "requirements installed"
exit 0
