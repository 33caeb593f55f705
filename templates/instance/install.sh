#!/bin/bash
# easyTDV: prepare the run's Python environment on the instance.
#
# Run over SSM (AWS-RunShellScript) by the core's few-line command
# (templates/instance/fetch.sh): one line of exports, then the fetch of this
# script, common.sh and the helper from s3://<bucket>/<prefix>/scripts/, each
# checked against the SHA-256 in the command. The exports:
#   EASYTDV_BUCKET, EASYTDV_PREFIX      the run's bucket and key prefix (required)
#   EASYTDV_BUCKET_OWNER                the bucket's account: every S3 call names it (ExpectedBucketOwner)
#   AWS_DEFAULT_REGION                  the run's region
#   EASYTDV_IMAGE_ID                    the AMI id (written in the cache's description)
#   EASYTDV_CACHE_KEY                   the environment cache's key, computed by the app (no cache without it)
#   EASYTDV_CACHE_SHA256, EASYTDV_CACHE_ARCHIVE
#                                       the archive the app recorded for that key and its SHA-256
#                                       (no restore without them: an archive no one vouches for is not used)
#   EASYTDV_CACHE_SAVE                  0: this run may not write that key (its role allows another), no save
#   EASYTDV_ENTRY                       the entry point's path in the project (default train.py; a notebook:
#                                       <name>.ipynb, whose executor the app added to the requirements)
#   EASYTDV_MANIFEST_SHA256             the project's manifest (<prefix>/project.json) has this SHA-256
#   EASYTDV_REQUIREMENTS                the requirements file's path in the project (empty: <prefix>/requirements.txt)
#   EASYTDV_EXTRA_REQUIREMENTS          a file beside the scripts' prefix installed with them (a notebook's
#                                       executor pins, when the requirements are the project's own file)
#   EASYTDV_HOME                        base directory (default /opt/easytdv; the sandbox sets it)
#   EASYTDV_CACHE_PREFIX                cache key prefix in the bucket (default easytdv/cache)
#   EASYTDV_CACHE_SAVE_PREFIX           where a new environment is saved (default EASYTDV_CACHE_PREFIX):
#                                       a machine of the base writes only its own folder; the app
#                                       copies the save into the cache (templates/README.md, "base.yaml")
#   EASYTDV_IDLE_AFTER_FAILURE_MIN      shut the machine down this long after a failure (default 60)
#   EASYTDV_DEADLINE_IN                 seconds left to the run's max-runtime deadline (a machine kept
#                                       warm starts a new run with its own)
#   EASYTDV_LOG_INTERVAL                seconds between log uploads at first (default 2; up to 10 s later)
#   EASYTDV_LOG_CHUNK_BYTES             size of a sealed log chunk (default 1048576)
#
# 1 download   the project (EASYTDV_MANIFEST_SHA256 given: <prefix>/project.json and
#              easytdv/blobs/<sha256>, each checked, into $EASYTDV_HOME/project;
#              EASYTDV_REQUIREMENTS: the requirements file's path in it, and
#              EASYTDV_EXTRA_REQUIREMENTS beside), else the entry point (train.py)
#              + requirements.txt, one helper call (both at once)
# 2 python     the Deep Learning AMI's PyTorch environment, else python3.12
#              (installed with dnf when missing), else python3 >= 3.10
# 3 env        uv (pinned, its wheel checked against the SHA-256 below; from
#              PATH or PyPI) creates $EASYTDV_HOME/venv; `python -m venv` +
#              pip when uv cannot be had
# 4 cache      s3://$EASYTDV_BUCKET/$EASYTDV_CACHE_PREFIX/<key>.tar.zst + <key>.json:
#              restored before the install (offline install) when its SHA-256
#              is the one the app recorded; after a fresh install, train.sh
#              saves it while train.py runs
# 5 install    `uv pip install -r requirements.txt` (pip's format), pip as fallback;
#              a project whose requirements are its uv.lock (EASYTDV_REQUIREMENTS=uv.lock,
#              pyproject.toml beside it): `uv sync --frozen`, exactly the lock (uv only)
# Everything it prints is also in $EASYTDV_HOME/logs/install.log as
# "<epoch ms> <o|e> <text>" lines, shipped in chunks to outputs/_logs/install/.
#
# Lines the core may parse (stdout): "easytdv: phase <name> <seconds>" (and
# once "easytdv: phase boot <seconds>", the user data's own run time),
# "easytdv: python <version>", "easytdv: installer uv <version>",
# "easytdv: installer pip (<why>)", "easytdv: no requirements",
# "easytdv: cache hit <key> <created>", "easytdv: cache miss <key>",
# "easytdv: cache corrupt <key>, installing afresh", "easytdv: the environment will be
# saved for next time while train.py runs" (train.sh saves it:
# "cache saved <key> <bytes> <sha256> <archive>"),
# "easytdv: using the preinstalled torch <version>",
# "easytdv: machine will shut down at <ISO time> unless you retry",
# "easytdv: requirements installed" (the last line of a success).
# Exit codes: 0 ok, 2 missing setting, 3 download failed, 82 the project in
# the bucket is not the one the app sent (not used), 4 no environment
# (venv could not be created), 5 the requirements could not be installed,
# 6 no Python >= 3.10 on the machine and none could be installed.
# On any failure the machine schedules its own shutdown (see templates/README.md).
#
# AWS-RunShellScript may start the script with sh; re-run it with bash.
if [ -z "${BASH_VERSION:-}" ] && [ -f "$0" ]; then exec bash "$0"; fi
set -uo pipefail

UV_PIN="0.13.9"
# uv's manylinux wheels on PyPI, as the app ships them: the download is checked
# against these, never against a checksum read from the same PyPI answer.
UV_WHEEL_SHA256_x86_64="d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19"
UV_WHEEL_SHA256_aarch64="5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe"

EASYTDV_LIB="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=common.sh
. "$EASYTDV_LIB/common.sh" || { echo "easytdv: $EASYTDV_LIB/common.sh is missing" >&2; exit 2; }

run_logged install
# If the log helper ever dies, carry on (and upload) instead of dying on a write.
trap '' PIPE
trap 'rc=$?; [ "$rc" -eq 0 ] || failure_shutdown; exit "$rc"' EXIT
restore_safety_shutdown

# The user data's own run time (bootstrap.sh measured it), reported once.
if [ -f "$EASYTDV_HOME/bootstrap.seconds" ] && [ ! -f "$EASYTDV_HOME/bootstrap.reported" ]; then
    boot="$(cat "$EASYTDV_HOME/bootstrap.seconds" 2>/dev/null)"
    if [[ "$boot" =~ ^[0-9]+\.[0-9]{3}$ ]]; then
        say "phase boot $boot"
        : >"$EASYTDV_HOME/bootstrap.reported" || warn "could not write $EASYTDV_HOME/bootstrap.reported"
    fi
fi

[ -n "${EASYTDV_BUCKET:-}" ] || fail 2 "EASYTDV_BUCKET is not set"
[ -n "${EASYTDV_PREFIX:-}" ] || fail 2 "EASYTDV_PREFIX is not set"
SOURCE="s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}"
CACHE_PREFIX="${EASYTDV_CACHE_PREFIX:-easytdv/cache}"
CACHE_PREFIX="${CACHE_PREFIX#/}"
CACHE_URL="s3://$EASYTDV_BUCKET/${CACHE_PREFIX%/}"
SAVE_PREFIX="${EASYTDV_CACHE_SAVE_PREFIX:-$CACHE_PREFIX}"
SAVE_PREFIX="${SAVE_PREFIX#/}"
SAVE_URL="s3://$EASYTDV_BUCKET/${SAVE_PREFIX%/}"
IMAGE_ID="${EASYTDV_IMAGE_ID:-unknown}"
KEY="${EASYTDV_CACHE_KEY:-}"
[[ "$KEY" =~ ^[0-9a-f]{64}$ ]] || KEY=""
RUN_DIR="$EASYTDV_HOME/run"
ENTRY="${EASYTDV_ENTRY:-train.py}"
# A path in the project (or a name beside the scripts), never a way out of it.
case "/$ENTRY/" in
    // | /.* | *//* | */./* | */../*) fail 2 "the entry point \"$ENTRY\" is not a path inside the project" ;;
esac
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

# --- 1 download: the project (or both inputs) --------------------------------
t0="$(now_us)"
say "downloading inputs from $SOURCE/"
WORK_DIR="$RUN_DIR"
EXTRA_REQ=""
if [ -n "${EASYTDV_MANIFEST_SHA256:-}" ]; then
    materialise_project 3
    WORK_DIR="$PROJECT_DIR"
    if [ -n "${EASYTDV_REQUIREMENTS:-}" ]; then
        # Inside the project: its -r and -c lines find their files beside it.
        REQ="$PROJECT_DIR/$EASYTDV_REQUIREMENTS"
        [ -f "$REQ" ] || fail 3 "the project has no $EASYTDV_REQUIREMENTS"
        if [ -n "${EASYTDV_EXTRA_REQUIREMENTS:-}" ]; then
            case "$EASYTDV_EXTRA_REQUIREMENTS" in
                */* | .*) fail 2 "EASYTDV_EXTRA_REQUIREMENTS is not a file name" ;;
            esac
            EXTRA_REQ="$RUN_DIR/$EASYTDV_EXTRA_REQUIREMENTS"
            rm -f "$EXTRA_REQ"
            s3_get "$SOURCE/$EASYTDV_EXTRA_REQUIREMENTS" "$EXTRA_REQ"
            [ -f "$EXTRA_REQ" ] || fail 3 "could not download $SOURCE/$EASYTDV_EXTRA_REQUIREMENTS"
        fi
    else
        rm -f "$REQ"
        s3_get "$SOURCE/requirements.txt" "$REQ"
        [ -f "$REQ" ] || fail 3 "could not download $SOURCE/requirements.txt"
    fi
else
    rm -f "$RUN_DIR/$ENTRY" "$REQ"
    s3_get "$SOURCE/$ENTRY" "$RUN_DIR/$ENTRY" "$SOURCE/requirements.txt" "$REQ"
    for name in "$ENTRY" requirements.txt; do
        [ -f "$RUN_DIR/$name" ] || fail 3 "could not download $SOURCE/$name"
    done
fi
# What pip and uv install: the requirements, and the extra pins beside them.
REQ_ARGS=(-r "$REQ")
if [ -n "$EXTRA_REQ" ]; then REQ_ARGS+=(-r "$EXTRA_REQ"); fi
phase_line download $(($(now_us) - t0))
# The project's uv.lock (at its root, beside pyproject.toml): installed as locked.
LOCK=""
[ "${EASYTDV_REQUIREMENTS:-}" = uv.lock ] && LOCK=1

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
    local cand v out arch want
    UV="" UV_WHY=""
    for cand in "$(command -v uv 2>/dev/null)" "$EASYTDV_HOME/tools/uv-$UV_PIN/uv"; do
        [ -n "$cand" ] && [ -x "$cand" ] || continue
        v="$("$cand" --version 2>/dev/null | awk '{print $2}')"
        if [ "$v" = "$UV_PIN" ]; then UV="$cand" && return 0; fi
    done
    arch="$(uname -m)"
    want="UV_WHEEL_SHA256_$arch"
    # (EASYTDV_UV_WHEEL_SHA256: tests only, whose local index serves a wheel of its own)
    want="${EASYTDV_UV_WHEEL_SHA256:-${!want:-}}"
    if [ -z "$want" ]; then
        UV_WHY="easyTDV ships no checksum of uv $UV_PIN for $arch"
        return 1
    fi
    say "fetching uv $UV_PIN from ${EASYTDV_PYPI_URL:-https://pypi.org}"
    if out="$("$PY" "$HELPER" uv "$UV_PIN" "$EASYTDV_HOME/tools/uv-$UV_PIN" \
        "${EASYTDV_PYPI_URL:-https://pypi.org}" "$arch" "$want" 2>&1)"; then
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
if [ -n "$LOCK" ]; then
    cp "$REQ" "$NORM" || fail 5 "could not read uv.lock"
elif grep -qEv '^[[:space:]]*(#.*)?$' "$REQ" ${EXTRA_REQ:+"$EXTRA_REQ"}; then
    "$PY" "$HELPER" reqs "$REQ" "$NORM" >/dev/null || fail 5 "could not read requirements.txt"
    # A notebook's executor pins count too: with a requirements.txt of
    # comments only, they are what is installed.
    if [ -n "$EXTRA_REQ" ]; then
        "$PY" "$HELPER" reqs "$EXTRA_REQ" "$NORM.extra" >/dev/null || fail 5 "could not read $EXTRA_REQ"
        cat "$NORM.extra" >>"$NORM" && rm -f "$NORM.extra"
    fi
else
    : >"$NORM" # only blank lines and comments: nothing to install (no helper start)
fi
if find_uv; then
    INSTALLER=uv
    say "installer uv $UV_PIN"
elif [ -n "$LOCK" ]; then
    fail 5 "the project's uv.lock is installed with uv, which this machine cannot have ($UV_WHY); add a requirements.txt to install with pip instead"
else
    INSTALLER=pip
    say "installer pip ($UV_WHY)"
fi
PIP_READY=""
# A machine kept warm since a run with the same requirements (same cache key,
# same installer): its environment is used as it is, nothing is installed.
READY_MARK="$EASYTDV_HOME/venv.ready"
REUSED=""
if [ -n "$KEY" ] && [ "$(cat "$READY_MARK" 2>/dev/null)" = "$KEY $INSTALLER" ] && "$VENV/bin/python" -c '' 2>/dev/null; then
    ENV_PY="$VENV/bin/python" REUSED=1
    say "environment reused in place $KEY (this machine installed it for an earlier run)"
else
    rm -f "$READY_MARK"
    create_env
fi
[ -n "$DLAMI_ENV" ] && say "the environment is the Deep Learning AMI's $DLAMI_ENV (torch $TORCH_PRE)"
phase_line env $(($(now_us) - t0))

# --- 4/5 cache and install ----------------------------------------------------
pip_prepare() { # pip in the environment, upgraded once
    [ -n "$PIP_READY" ] && return 0
    PIP_READY=1
    "$ENV_PY" -m pip install --upgrade --retries 1 --timeout 15 pip \
        || warn "could not upgrade pip in the environment; going on with $("$ENV_PY" -m pip --version 2>&1 | cut -d' ' -f2)"
}
uv_sync() { # uv_sync [--offline]: exactly the lock, into $VENV (never a .venv in the project)
    # --inexact: what the environment already has (the Deep Learning AMI's torch) stays.
    UV_PROJECT_ENVIRONMENT="$VENV" "$UV" sync --frozen --inexact --no-progress --python "$ENV_PY" "$@"
}
install_online() {
    cd "$WORK_DIR" || return 1
    if [ -n "$LOCK" ]; then
        say "installing exactly what uv.lock says (uv sync --frozen)"
        uv_sync
        return
    fi
    if [ "$INSTALLER" = uv ]; then
        "$UV" pip install --no-progress --python "$ENV_PY" "${REQ_ARGS[@]}" && return 0
        say "installer pip (uv could not install the requirements)"
        INSTALLER=pip PIP_READY=""
        create_env
    fi
    pip_prepare
    rm -f "$TMPDIR/pip-report.json"
    if "$ENV_PY" -m pip install --help 2>/dev/null | grep -q -- --report; then
        # The report names what was installed: the wheelhouse of the cache.
        "$ENV_PY" -m pip install --report "$TMPDIR/pip-report.json" "${REQ_ARGS[@]}"
    else
        "$ENV_PY" -m pip install "${REQ_ARGS[@]}"
    fi
}
install_offline() { # from the restored cache only
    cd "$WORK_DIR" || return 1
    if [ -n "$LOCK" ]; then
        uv_sync --offline
        return
    fi
    if [ "$INSTALLER" = uv ]; then
        if [ -d "$WHEELHOUSE" ]; then
            "$UV" pip install --no-progress --offline --no-index --find-links "$WHEELHOUSE" --python "$ENV_PY" "${REQ_ARGS[@]}"
        else
            "$UV" pip install --no-progress --offline --python "$ENV_PY" "${REQ_ARGS[@]}"
        fi
    else
        [ -d "$WHEELHOUSE" ] || { say "the cached environment was made by uv, which is not available"; return 1; }
        "$ENV_PY" -m pip install --no-index --find-links "$WHEELHOUSE" "${REQ_ARGS[@]}"
    fi
}
cache_corrupt() {
    say "cache object unusable: $1"
    say "cache corrupt $KEY, installing afresh"
}
cache_unpack() { # cache_unpack <archive name> <dir>: the archive on stdin
    # Quiet: on a miss it reads nothing and fails; cache_corrupt says the rest.
    # Into a staging folder used only once the digest matches; as root, still
    # never the archive's owners or set-id bits (--no-same-owner/-permissions).
    case "$1" in
        *.zst) zstd -dcq 2>/dev/null | tar -x --no-same-owner --no-same-permissions -C "$2" 2>/dev/null ;;
        *) tar -xz --no-same-owner --no-same-permissions -C "$2" 2>/dev/null ;;
    esac
}
cache_fetch() { # cache_fetch <archive name> <dir> <digest file>: 0 unpacked, 4 missing, 1 unusable
    # Streamed from S3 through the helper's digest (SHA-256 and size of what
    # went by, written to <digest file> at the end) into the unpacking: no copy
    # of the archive on the disk; the caller uses the folder only when the
    # digest is the one the app recorded. Archives over SMALL_BYTES, and any
    # helper failure, through the AWS CLI.
    local url="$CACHE_URL/$1" st
    rm -f "$3"
    if helper_ok; then
        python3 "$HELPER" cat --max-bytes "$SMALL_BYTES" "$url" 2>/dev/null | "$PY" "$HELPER" digest "$3" \
            | cache_unpack "$1" "$2"
        st=("${PIPESTATUS[@]}")
        [ "${st[0]}" = 4 ] && return 4
        [ "${st[0]}" = 5 ] && return 1 # the unpacking gave up: not worth a second download
        if [ "${st[0]}" = 0 ]; then
            [ "${st[1]}" = 0 ] && [ "${st[2]}" = 0 ] && return 0
            return 1
        fi
        rm -rf "$2" "$3" && mkdir -p "$2"
    fi
    aws s3 cp --only-show-errors "$url" - 2>/dev/null | "$PY" "$HELPER" digest "$3" | cache_unpack "$1" "$2"
    st=("${PIPESTATUS[@]}")
    [ "${st[0]}" = 0 ] || return 4 # (the AWS CLI tells no missing object apart)
    [ "${st[1]}" = 0 ] && [ "${st[2]}" = 0 ] || return 1
    return 0
}
cache_restore() { # 0 when a cache was restored into $UV_CACHE_DIR or $WHEELHOUSE
    # Only the archive the app recorded when it was saved (EASYTDV_CACHE_ARCHIVE,
    # EASYTDV_CACHE_SHA256): one GET on a hit, the archive carries its own
    # description. Any other run may read the object, only the run that made it
    # may write it (its role names that one key), and a restored folder is used
    # only when its bytes are the ones recorded.
    local archive="${EASYTDV_CACHE_ARCHIVE:-}" want="${EASYTDV_CACHE_SHA256:-}" created python got size
    local restore="$CACHE_DIR/restore" digest="$CACHE_DIR/restore.sha256" rc
    if ! [[ "$want" =~ ^[0-9a-f]{64}$ ]] || { [ "$archive" != "$KEY.tar.zst" ] && [ "$archive" != "$KEY.tar.gz" ]; }; then
        say "cache miss $KEY"
        return 1
    fi
    if [ "$archive" = "$KEY.tar.zst" ] && ! command -v zstd >/dev/null 2>&1; then
        say "the saved environment is a .tar.zst and zstd is not installed here"
        say "cache miss $KEY"
        return 1
    fi
    rm -rf "$restore"
    mkdir -p "$restore"
    cache_fetch "$archive" "$restore" "$digest"
    rc=$?
    if [ "$rc" = 4 ]; then
        rm -rf "$restore" "$digest"
        say "cache miss $KEY"
        return 1
    fi
    got="" size=""
    [ -f "$digest" ] && read -r got size <"$digest"
    rm -f "$digest"
    if [ "$rc" = 0 ] && [ "$got" != "$want" ]; then
        rm -rf "$restore"
        cache_corrupt "$archive is not the archive easyTDV recorded (SHA-256 ${got:-unknown}, $size bytes; expected $want): not used"
        return 1
    fi
    if [ "$rc" != 0 ]; then
        rm -rf "$restore"
        cache_corrupt "$archive could not be unpacked"
        return 1
    fi
    if ! read -r _ created python < <("$PY" "$HELPER" meta read "$restore/easytdv-cache.json" "$KEY" 2>/dev/null) \
        || [ -z "$created" ]; then
        rm -rf "$restore"
        cache_corrupt "$archive has no valid easytdv-cache.json"
        return 1
    fi
    if [ "${python%.*}" != "${PY_VERSION%.*}" ]; then
        rm -rf "$restore"
        cache_corrupt "$archive was made with Python $python, this machine uses $PY_VERSION"
        return 1
    fi
    rm -rf "$UV_CACHE_DIR" "$WHEELHOUSE"
    if [ -d "$restore/uv" ]; then
        mv "$restore/uv" "$UV_CACHE_DIR"
    elif [ -d "$restore/wheelhouse" ]; then
        mv "$restore/wheelhouse" "$WHEELHOUSE"
    else
        rm -rf "$restore"
        cache_corrupt "$archive holds no cache"
        return 1
    fi
    rm -rf "$restore"
    say "cache hit $KEY $created"
}
cache_save() {
    local what archive size sha meta="$TMPDIR/cache-$KEY.json" urls
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
    # What the app records, and hands the next run to check before a restore.
    sha="$("$PY" "$HELPER" sha256 "$TMPDIR/$archive")" || sha=""
    # The archive first, its description last: a description means a complete archive.
    if [ -n "$sha" ] && s3_put "$TMPDIR/$archive" "$SAVE_URL/$archive" \
        && "$PY" "$HELPER" meta sized "$CACHE_DIR/easytdv-cache.json" "$size" "$sha" "$meta" \
        && s3_put "$meta" "$SAVE_URL/$KEY.json"; then
        say "cache saved $KEY $size $sha $archive"
    else
        say "cache not saved (could not upload it to $SAVE_URL/)"
    fi
    rm -f "$TMPDIR/$archive" "$meta"
}

# The save (pack and upload: seconds, minutes for a big environment) is not on
# the way to the first epoch: train.sh runs it in the background while train.py
# runs. This writes it as a script of its own: the values and functions it uses
# (paths and the key; nothing secret), then the save.
SAVE_LATER="$EASYTDV_HOME/cache-save.sh"
rm -f "$SAVE_LATER"
save_later() {
    if {
        echo '#!/bin/bash'
        echo 'set -uo pipefail'
        declare -p INSTALLER UV KEY WHEELHOUSE PY RUN_DIR ENV_PY CACHE_DIR NORM PY_VERSION IMAGE_ID CACHE_URL SAVE_URL \
            UV_CACHE_DIR PIP_CACHE_DIR HELPER SMALL_BYTES PY38
        echo 'HELPER_OK=""'
        declare -f say warn now_us phase_line helper_ok s3_put cache_save
        echo 'rm -f "$0"'
        echo 't_save="$(now_us)"'
        echo 'cache_save'
        echo 'phase_line cache-save $(($(now_us) - t_save))'
    } >"$SAVE_LATER.tmp" 2>/dev/null && mv -f "$SAVE_LATER.tmp" "$SAVE_LATER"; then
        say "the environment will be saved for next time while train.py runs"
    else
        rm -f "$SAVE_LATER.tmp"
        warn "could not write the environment's save for later; saving it now"
        cache_save
    fi
}

if [ -n "$REUSED" ]; then
    phase_line cache 0
    phase_line install 0
elif [ ! -s "$NORM" ]; then
    say "no requirements"
    phase_line cache 0
    phase_line install 0
else
    t0="$(now_us)"
    restored=0
    if [ -n "$KEY" ]; then
        cache_restore && restored=1
    else
        say "no environment cache (the app gave no cache key)"
    fi
    phase_line cache $(($(now_us) - t0))
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
    if [ "$hit" = 0 ] && [ -n "$KEY" ]; then
        if [ "${EASYTDV_CACHE_SAVE:-1}" = 0 ]; then
            # The run's role may write only the key its requirements had when
            # the run was set up: a retry with other requirements saves nothing.
            say "cache not saved (the requirements changed since this run's machine was set up; the next run saves them)"
        else
            save_later
        fi
    fi
fi

if [ -n "$DLAMI_ENV" ]; then
    torch="$("$ENV_PY" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null)"
    if [ "$torch" = "$TORCH_PRE" ]; then
        say "using the preinstalled torch $TORCH_PRE"
    else
        say "torch ${torch:-?} replaced the preinstalled torch $TORCH_PRE (the requirements asked for another version)"
    fi
fi
# For a next run on this machine (kept warm): these requirements are in $VENV.
[ -n "$KEY" ] && { echo "$KEY $INSTALLER" >"$READY_MARK" || warn "could not write $READY_MARK"; }
say "requirements installed"
exit 0
