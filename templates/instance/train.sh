#!/bin/bash
# easyTDV: run the training script on the instance and upload its outputs.
#
# Run over SSM (AWS-RunShellScript) by the core's few-line command
# (templates/instance/fetch.sh, the same as install.sh's: the exports, then
# this script, common.sh and the helper fetched from the run's prefix and
# checked against the SHA-256 in the command; install.sh's copies are reused
# when they still match). Reads EASYTDV_BUCKET, EASYTDV_PREFIX (required),
# EASYTDV_BUCKET_OWNER, AWS_DEFAULT_REGION, EASYTDV_HOME (optional, default
# /opt/easytdv), EASYTDV_IDLE_AFTER_FAILURE_MIN (default 60),
# EASYTDV_LOG_INTERVAL (default 2), EASYTDV_LOG_CHUNK_BYTES (default 1048576);
# the cache's exports are install.sh's (its save, left in cache-save.sh, runs here).
#
# 1 download   the project again (EASYTDV_MANIFEST_SHA256: only what changed, each
#              file checked; EASYTDV_ENTRY: the script's path in it), else train.py
#              again (a retry runs the fixed script), one call
# 2 train      $EASYTDV_HOME/venv/bin/python -u <entry> from the project's root
#              ($EASYTDV_HOME/project; $EASYTDV_HOME/run without a project),
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
# train.py could not be downloaded; 81 the project in the bucket is not the one
# the app sent (not used); 90 training succeeded but the upload failed.
#
# AWS-RunShellScript may start the script with sh; re-run it with bash.
if [ -z "${BASH_VERSION:-}" ] && [ -f "$0" ]; then exec bash "$0"; fi
set -uo pipefail

UPLOAD_FAILED_EXIT=90

EASYTDV_LIB="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=common.sh
. "$EASYTDV_LIB/common.sh" || { echo "easytdv: $EASYTDV_LIB/common.sh is missing" >&2; exit 2; }

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
WORK_DIR="$RUN_DIR"
ENTRY="train.py"
if [ -n "${EASYTDV_MANIFEST_SHA256:-}" ]; then
    # The project again (a retry runs the fixed files; unchanged ones stay).
    materialise_project 2
    WORK_DIR="$PROJECT_DIR"
    ENTRY="${EASYTDV_ENTRY:-train.py}"
    [ -f "$WORK_DIR/$ENTRY" ] || fail 2 "the project has no $ENTRY"
elif ! s3_get "$SOURCE/train.py" "$RUN_DIR/train.py"; then
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
# From the project's root: its imports and relative paths work as at home.
cd "$WORK_DIR" || exit 2
say "training started (OUTPUT_DIR=$OUTPUT_DIR)"
t0="$(now_us)"
"$PYTHON" -u "$WORK_DIR/$ENTRY" &
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
