#!/bin/bash
# easyTDV: run the training script on the instance and upload its outputs.
#
# Run by SSM (AWS-RunShellScript) after the core's one-line prelude of exports
# (the same as install.sh's): EASYTDV_BUCKET, EASYTDV_PREFIX (required),
# AWS_DEFAULT_REGION, EASYTDV_HOME (optional, default /opt/easytdv),
# EASYTDV_IDLE_AFTER_FAILURE_MIN (default 60), EASYTDV_LOG_INTERVAL (default 2),
# EASYTDV_LOG_CHUNK_BYTES (default 1048576); EASYTDV_IMAGE_ID and
# EASYTDV_CACHE_PREFIX are not used here.
#
# 1 download   train.py again (a retry runs the fixed script), one call
# 2 train      $EASYTDV_HOME/venv/bin/python -u train.py in $EASYTDV_HOME/run,
#              OUTPUT_DIR=$EASYTDV_HOME/outputs (emptied first); SIGTERM stops it
# 3 upload     ALWAYS, one helper call (8 files at a time; files over 64 MiB
#              with `aws s3 sync`, in parts) of OUTPUT_DIR plus the plain logs
#              (_logs/train-stdout.log, _logs/train-stderr.log) to
#              s3://$EASYTDV_BUCKET/$EASYTDV_PREFIX/outputs/
# Everything it prints is also in $EASYTDV_HOME/logs/train.log as
# "<epoch ms> <o|e> <text>" lines, shipped in chunks to outputs/_logs/train/
# while it runs.
#
# Lines the core may parse (stdout): "easytdv: phase <name> <seconds>"
# (download, train, upload), "easytdv: training exited with code <n>",
# "easytdv: outputs uploaded (<n> files)",
# "easytdv: machine will shut down at <ISO time> unless you retry" (failure),
# "easytdv: machine will shut down at <ISO time> (training finished, outputs uploaded)",
# "easytdv: training finished" (the last line of a success).
# Exit code: the training's exit code; 2 missing setting, not installed, or
# train.py could not be downloaded; 90 training succeeded but the upload failed.
#
# AWS-RunShellScript may start the script with sh; re-run it with bash.
if [ -z "${BASH_VERSION:-}" ] && [ -f "$0" ]; then exec bash "$0"; fi
set -uo pipefail

UPLOAD_FAILED_EXIT=90

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

# --- S3: small objects through the helper (one Python process, no AWS CLI
# start), big ones and any helper failure through the AWS CLI -----------------
SMALL_BYTES="${EASYTDV_S3_SMALL_BYTES:-$((64 << 20))}" # tests set a small one
PY38='import sys; sys.exit(sys.version_info < (3, 8))' # what the helper needs (quicker than loading it)
HELPER_OK="${EASYTDV_HELPER_OK:-}" # run_logged checked it
helper_ok() {
    if [ -z "$HELPER_OK" ]; then
        HELPER_OK=0
        command -v python3 >/dev/null 2>&1 && [ -f "$HELPER" ] && python3 -c "$PY38" && HELPER_OK=1
    fi
    [ "$HELPER_OK" = 1 ]
}
s3_get() { # s3_get <s3 url> <file> [<s3 url> <file> ...]: all of them, at the same time
    local rc
    if helper_ok; then
        python3 "$HELPER" get --max-bytes "$SMALL_BYTES" "$@" && return 0
        rc=$?
        [ "$rc" = 4 ] && return 4 # missing: the AWS CLI would not do better
    fi
    rc=0
    while [ "$#" -ge 2 ]; do
        aws s3 cp --only-show-errors "$1" "$2" || rc=1
        shift 2
    done
    return "$rc"
}
s3_put() { # s3_put <file> <s3 url>
    if helper_ok && [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -le "$SMALL_BYTES" ]; then
        python3 "$HELPER" put "$1" "$2" && return 0
        warn "trying the upload again with the AWS CLI"
    fi
    aws s3 cp --only-show-errors "$1" "$2"
}
s3_put_dir() { # s3_put_dir <folder> <s3 url ending in />: every file below it
    if helper_ok; then
        python3 "$HELPER" putdir --max-bytes "$SMALL_BYTES" "$1" "$2" && return 0
        [ "$?" = 1 ] && warn "trying the upload again with the AWS CLI"
    fi
    aws s3 sync --only-show-errors "$1" "$2"
}

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
    local interval="${EASYTDV_LOG_INTERVAL:-2}" chunk="${EASYTDV_LOG_CHUNK_BYTES:-1048576}" args
    if ! { [ -f "$0" ] && grep -q EASYTDV_LOG_WRAPPED "$0" 2>/dev/null; }; then
        say "no live log: the script is not run from a file"
        return 0
    fi
    # install.sh (re)writes the helper; train.sh uses the copy it left.
    if declare -F write_helper >/dev/null; then write_helper; fi
    if ! { command -v python3 >/dev/null 2>&1 && [ -f "$HELPER" ] && python3 -c "$PY38"; }; then
        say "no live log: python3 (3.8 or newer) or $HELPER is missing on this machine"
        return 0
    fi
    [[ "$interval" =~ ^[0-9]+(\.[0-9]+)?$ ]] || interval=2
    is_uint "$chunk" && [ "$chunk" -ge 1 ] || chunk=1048576
    args=(--log "$LOG_DIR/$1.log")
    if [ "${2:-}" = --raw ]; then
        args+=(--raw-out "$LOG_DIR/$1-stdout.log" --raw-err "$LOG_DIR/$1-stderr.log")
    fi
    if [ -n "${EASYTDV_BUCKET:-}" ] && [ -n "${EASYTDV_PREFIX:-}" ]; then
        args+=(--dest "s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}/outputs/_logs/$1/"
            --interval "$interval" --chunk-bytes "$chunk")
    fi
    export EASYTDV_LOG_WRAPPED=1 EASYTDV_HELPER_OK=1
    exec python3 "$HELPER" run "${args[@]}" -- bash "$0"
}
# <<< easytdv common <<<

run_logged train --raw
# If the log helper ever dies, carry on (and upload) instead of dying on a write.
trap '' PIPE
trap 'rc=$?; declare -F wait_for_save >/dev/null && wait_for_save; [ "$rc" -eq 0 ] || failure_shutdown; exit "$rc"' EXIT
restore_safety_shutdown

[ -n "${EASYTDV_BUCKET:-}" ] || fail 2 "EASYTDV_BUCKET is not set"
[ -n "${EASYTDV_PREFIX:-}" ] || fail 2 "EASYTDV_PREFIX is not set"
SOURCE="s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}"
DEST="$SOURCE/outputs/"
RUN_DIR="$EASYTDV_HOME/run"
PYTHON="$EASYTDV_HOME/venv/bin/python"
STAGE="$EASYTDV_HOME/upload"
export OUTPUT_DIR="$EASYTDV_HOME/outputs"

if [ ! -x "$PYTHON" ]; then
    fail 2 "the run is not installed ($PYTHON is missing); install the requirements first"
fi

# --- 1 download ---------------------------------------------------------------
t0="$(now_us)"
mkdir -p "$RUN_DIR"
if ! s3_get "$SOURCE/train.py" "$RUN_DIR/train.py"; then
    fail 2 "could not download train.py from $SOURCE/"
fi
phase_line download $(($(now_us) - t0))

# --- the environment's save, left by install.sh after a fresh install --------
# In the background and at a lower priority than the training, in a process
# group of its own (a stop ends all of it). One try: the script is moved away
# first, so a retried training does not save again.
SAVE_LATER="$EASYTDV_HOME/cache-save.sh"
saver=""
if [ -f "$SAVE_LATER" ] && mv -f "$SAVE_LATER" "$TMPDIR/cache-save.sh"; then
    if command -v setsid >/dev/null 2>&1; then
        nice -n 10 setsid bash "$TMPDIR/cache-save.sh" </dev/null &
    else
        nice -n 10 bash "$TMPDIR/cache-save.sh" </dev/null &
    fi
    saver=$!
    say "saving the environment for next time, while train.py runs"
fi
wait_for_save() {
    [ -n "$saver" ] || return 0
    kill -0 "$saver" 2>/dev/null && say "waiting for the environment's save to finish"
    wait "$saver"
    saver=""
}
stop_save() {
    [ -n "$saver" ] || return 0
    kill -TERM -- "-$saver" 2>/dev/null || kill -TERM "$saver" 2>/dev/null
}

# --- 2 train ------------------------------------------------------------------
rm -rf "$OUTPUT_DIR"
mkdir -p "$OUTPUT_DIR"
cd "$RUN_DIR" || exit 2
say "training started (OUTPUT_DIR=$OUTPUT_DIR)"
t0="$(now_us)"
"$PYTHON" -u "$RUN_DIR/train.py" &
child=$!
# On a stop request, stop the training (and the save), then still upload what it wrote.
trap 'warn "stop requested, stopping training"; kill -TERM "$child" 2>/dev/null; stop_save' TERM INT
wait "$child"
train_rc=$?
while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    train_rc=$?
done
trap - TERM INT
say "training exited with code $train_rc"
phase_line train $(($(now_us) - t0))

# --- 3 upload: outputs and the plain logs, one sync ---------------------------
t0="$(now_us)"
file_count=$(find "$OUTPUT_DIR" -type f | wc -l | tr -d ' ')
rm -rf "$STAGE"
mkdir -p "$STAGE/_logs"
# Hard links: no copy of big checkpoints (same disk); a plain copy otherwise.
cp -al "$OUTPUT_DIR/." "$STAGE/" 2>/dev/null || cp -a "$OUTPUT_DIR/." "$STAGE/"
for name in train-stdout.log train-stderr.log; do
    [ -f "$LOG_DIR/$name" ] && cp "$LOG_DIR/$name" "$STAGE/_logs/$name"
done
say "uploading outputs to $DEST"
if s3_put_dir "$STAGE" "$DEST"; then
    say "outputs uploaded ($file_count files)"
    upload_ok=1
else
    warn "could not upload the outputs in $OUTPUT_DIR to $DEST"
    upload_ok=0
fi
rm -rf "$STAGE"
phase_line upload $(($(now_us) - t0))
# The machine may end right after this script: the save must be done.
wait_for_save

if [ "$train_rc" -ne 0 ]; then
    fail "$train_rc" "training failed with exit code $train_rc"
fi
if [ "$upload_ok" -ne 1 ]; then
    fail "$UPLOAD_FAILED_EXIT" "training succeeded but its outputs were not uploaded"
fi
# Done: the machine ends itself, even if the app is closed.
if self_shutdown_allowed; then
    rm -f "$SHUTDOWN_MARK"
    if when="$(shutdown_at $(($(date +%s) + 60)) "training finished, outputs uploaded")"; then
        echo "$when success" >"$SHUTDOWN_MARK"
        say "machine will shut down at $(utc_iso "$when") (training finished, outputs uploaded)"
    else
        warn "could not schedule the machine's shutdown"
    fi
fi
say "training finished"
exit 0
