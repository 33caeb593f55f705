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
# EASYTDV_LOG_INTERVAL (default 2), EASYTDV_LOG_CHUNK_BYTES (default 1048576),
# EASYTDV_DEADLINE_IN (seconds left to the run's max-runtime deadline: a
# machine kept warm starts a new run with its own), EASYTDV_KEEP_WARM_MIN (after a success the
# machine stays on this many minutes for the next run, at most 120, instead
# of ending a minute later), EASYTDV_ENTRY (the entry point's name: train.py, the default, or a notebook
# <name>.ipynb), EASYTDV_SECRET_NAMES and EASYTDV_SECRETS_PATH (the run's
# secrets: names and their Parameter Store path, never values); the cache's
# exports are install.sh's (its save, left in cache-save.sh, runs here).
#
# 1 download   the project again (EASYTDV_MANIFEST_SHA256: only what changed, each
#              file checked; EASYTDV_ENTRY: the script's path in it), else the
#              entry point (train.py, or the notebook) again, one call
# 2 train      $EASYTDV_HOME/venv/bin/python -u <entry> ARGS... from the project's
#              root ($EASYTDV_HOME/project; $EASYTDV_HOME/run without a project),
#              OUTPUT_DIR=$EASYTDV_HOME/outputs (emptied first); SIGTERM stops it.
#              ARGS and the run's plain variables come from easytdv-run-args.bin
#              beside this script (fetched and checked with it): NUL-terminated
#              records, read into arrays, never evaluated by a shell
#              (read_run_args below; the format is pipeline/run_args.rs's).
#              A notebook: papermill (installed with the requirements) executes
#              it in that folder with the run's kernel (ipykernel, registered in
#              the environment as "easytdv"), ARGS being papermill's parameters
#              (-p NAME VALUE, -r NAME VALUE), its cells' stdout/stderr streamed
#              into the log as they come, the executed notebook written to
#              $OUTPUT_DIR/<name>.executed.ipynb (also when a cell fails: then a
#              last stderr line names the cell); SIGTERM interrupts it (the
#              notebook executed so far is saved)
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
# Exit code: the training's exit code; 2 missing setting, not installed (or
# papermill missing for a notebook), or train.py could not be downloaded; 81
# the run's secrets could not be read (train.py did not start); 82 the project
# in the bucket is not the one the app sent (not used); 83 the same for the
# run's data; 3 the data could not be downloaded; 90 training succeeded but
# the upload failed.
#
# AWS-RunShellScript may start the script with sh; re-run it with bash.
if [ -z "${BASH_VERSION:-}" ] && [ -f "$0" ]; then exec bash "$0"; fi
set -uo pipefail

UPLOAD_FAILED_EXIT=90
# The longest a machine is kept warm after a run (the app offers up to 2 h).
KEEP_WARM_MAX_MIN=120

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
ENTRY="${EASYTDV_ENTRY:-train.py}"
# The entry's path in the project (or its name beside the scripts): relative,
# never a way out of the folder.
case "/$ENTRY/" in
    // | /.* | *//* | */./* | */../*) fail 2 "the entry point \"$ENTRY\" is not a path inside the project" ;;
esac
case "$ENTRY" in
    *.[iI][pP][yY][nN][bB]) NOTEBOOK=1 ;;
    *) NOTEBOOK=0 ;;
esac

if [ ! -x "$PYTHON" ]; then
    fail 2 "the run is not installed ($PYTHON is missing); install the requirements first"
fi

# --- the script's arguments and plain variables -------------------------------
# ARGS: train.py's argv after its name; RUN_ENV: NAME=value, exported for
# train.py only (more may be added to RUN_ENV before the training starts).
ARGS=()
RUN_ENV=()
RUN_ARGS_FILE="$EASYTDV_LIB/easytdv-run-args.bin"
read_run_args() { # read_run_args <file>: fills ARGS and RUN_ENV; 1 if the file is not ours
    local -a rec
    local n m
    mapfile -d '' -t rec <"$1" || return 1
    [ "${rec[0]:-}" = "easytdv-run-args 1" ] || return 1
    n="${rec[2]:-}"
    is_uint "$n" || return 1
    m="${rec[$((3 + n))]:-}"
    is_uint "$m" || return 1
    [ "${#rec[@]}" -eq $((4 + n + m)) ] || return 1
    ARGS=("${rec[@]:3:n}")
    RUN_ENV=("${rec[@]:$((4 + n)):m}")
}
if [ -f "$RUN_ARGS_FILE" ] && ! read_run_args "$RUN_ARGS_FILE"; then
    fail 2 "$RUN_ARGS_FILE is not a file of train.py's arguments easyTDV can read"
fi
# --- checkpoints: EASYTDV_CHECKPOINT_DIR, as on the SageMaker engine -----------
# A spot machine (EASYTDV_SPOT=1) watches for AWS's notice that it takes the
# machine back (two minutes ahead) and then uploads the folder to the run's
# outputs/checkpoints/; a run resumed on a new machine gets it back first
# (EASYTDV_CHECKPOINTS_RESTORE=1: the app put it in <prefix>/checkpoints/).
# One folder per run (a machine kept warm serves several): a new run on it
# finds none of an earlier run's; a retry on the same machine keeps its own.
RUN_NAME="$(basename "${EASYTDV_PREFIX%/}")"
export EASYTDV_CHECKPOINT_DIR="$EASYTDV_HOME/checkpoints/$RUN_NAME"
if [ -d "$EASYTDV_HOME/checkpoints" ]; then
    find "$EASYTDV_HOME/checkpoints" -mindepth 1 -maxdepth 1 ! -name "$RUN_NAME" -exec rm -rf {} + 2>/dev/null
fi
mkdir -p "$EASYTDV_CHECKPOINT_DIR"
# Restored only into an empty folder: newer ones of this machine stay.
if [ "${EASYTDV_CHECKPOINTS_RESTORE:-}" = 1 ] && [ -z "$(ls -A "$EASYTDV_CHECKPOINT_DIR")" ]; then
    if aws s3 cp --recursive --only-show-errors "$SOURCE/checkpoints/" "$EASYTDV_CHECKPOINT_DIR/"; then
        say "checkpoints restored: $(find "$EASYTDV_CHECKPOINT_DIR" -type f | wc -l) files in EASYTDV_CHECKPOINT_DIR"
    else
        warn "could not restore the checkpoints from $SOURCE/checkpoints/"
    fi
fi
mkdir -p "$EASYTDV_CHECKPOINT_DIR"
SPOT_WATCH=""
watch_spot() { # until AWS's notice: then the checkpoints go to the run's outputs
    local notice
    while :; do
        if notice="$(imds_get spot/instance-action)" && [ -n "$notice" ]; then
            say "AWS is taking this spot machine back ($notice): saving the checkpoints"
            if s3_put_dir "$EASYTDV_CHECKPOINT_DIR" "$DEST"checkpoints/; then
                say "checkpoints saved to outputs/checkpoints/ ($(find "$EASYTDV_CHECKPOINT_DIR" -type f | wc -l) files)"
            else
                warn "could not save the checkpoints"
            fi
            return 0
        fi
        sleep "${EASYTDV_SPOT_POLL:-5}"
    done
}
start_training() { # in a subshell: export the variables (as they are), become CMD (train.py or papermill)
    local kv
    for kv in "${RUN_ENV[@]}"; do
        export "$kv" || exit 2
    done
    exec "${CMD[@]}"
}

# --- 1 download ---------------------------------------------------------------
t0="$(now_us)"
mkdir -p "$RUN_DIR"
WORK_DIR="$RUN_DIR"
if [ -n "${EASYTDV_MANIFEST_SHA256:-}" ]; then
    # The project again (a retry runs the fixed files; unchanged ones stay).
    materialise_project 2
    WORK_DIR="$PROJECT_DIR"
    [ -f "$WORK_DIR/$ENTRY" ] || fail 2 "the project has no $ENTRY"
elif ! s3_get "$SOURCE/$ENTRY" "$RUN_DIR/$ENTRY"; then
    fail 2 "could not download $ENTRY from $SOURCE/"
fi
# The run's data (EASYTDV_DATA_SHA256: <prefix>/data.json, see the helper's
# `data`), in DATA_DIR before the training; a retry fetches only what changed.
DATA_REFUSED_EXIT=83
if [ -n "${EASYTDV_DATA_SHA256:-}" ]; then
    export DATA_DIR="$EASYTDV_HOME/data"
    helper_ok || fail 3 "the data cannot be fetched: python3 (3.8 or newer) is missing on this machine"
    say "downloading the run's data into $DATA_DIR"
    python3 "$HELPER" data "$SOURCE/data.json" "$EASYTDV_DATA_SHA256" "$DATA_DIR" "$EASYTDV_HOME/data.state.json"
    rc=$?
    [ "$rc" = "$DATA_REFUSED_EXIT" ] && fail "$DATA_REFUSED_EXIT" "the run's data is not what easyTDV listed: it was not used"
    [ "$rc" = 0 ] || fail 3 "could not download the run's data (see above)"
    # A data folder inside the project is also where the script looks for it.
    link="${EASYTDV_DATA_LINK:-}"
    if [ -n "$link" ] && [ "$WORK_DIR" = "$PROJECT_DIR" ]; then
        case "/$link/" in
            // | /.* | *//* | */./* | */../*) fail 2 "the data's place in the project \"$link\" is not inside it" ;;
        esac
        if [ ! -e "$WORK_DIR/$link" ] && [ ! -L "$WORK_DIR/$link" ]; then
            mkdir -p "$(dirname "$WORK_DIR/$link")" && ln -s "$DATA_DIR" "$WORK_DIR/$link" \
                || warn "could not link $link to DATA_DIR"
        fi
    fi
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
# papermill's command line, run so that SIGTERM interrupts the execution like
# Ctrl-C (the kernel is shut down and the notebook executed so far is saved),
# and a failing cell ends with its own traceback, not papermill's.
PAPERMILL_MAIN='import signal, sys
signal.signal(signal.SIGTERM, signal.default_int_handler)
from papermill.cli import papermill
from papermill.exceptions import PapermillExecutionError
try:
    papermill(prog_name="papermill")
except PapermillExecutionError as e:
    print(str(e).strip("\n"), file=sys.stderr)
    sys.exit(1)'
notebook_command() { # sets CMD: papermill with the run's kernel and the parameters (ARGS)
    "$PYTHON" -c 'import papermill, ipykernel' 2>/dev/null \
        || fail 2 "papermill is not installed in the run's environment: retry from \"Install requirements\""
    # The kernel of this environment, whatever the notebook names (a kernel
    # registered elsewhere on the machine under the same name never runs it).
    "$PYTHON" -m ipykernel install --sys-prefix --name easytdv --display-name "Python (easyTDV run)" >/dev/null \
        || fail 2 "could not register the environment's Jupyter kernel"
    EXECUTED="$(basename "${ENTRY%.*}").executed.ipynb"
    CMD=("$PYTHON" -u -c "$PAPERMILL_MAIN" "$WORK_DIR/$ENTRY" "$OUTPUT_DIR/$EXECUTED"
        -k easytdv --cwd "$WORK_DIR" --no-progress-bar --stdout-file - --stderr-file /dev/stderr
        "${ARGS[@]}")
}
rm -rf "$OUTPUT_DIR"
mkdir -p "$OUTPUT_DIR"
# From the project's root: its imports and relative paths work as at home.
cd "$WORK_DIR" || exit 2
if [ "$NOTEBOOK" = 1 ]; then
    notebook_command
else
    CMD=("$PYTHON" -u "$WORK_DIR/$ENTRY" "${ARGS[@]}")
fi
# The run's secrets (names in EASYTDV_SECRET_NAMES, the app put them in
# Parameter Store under EASYTDV_SECRETS_PATH): the helper reads them and
# becomes train.py (exec, same process), so the values reach train.py's
# environment only: never this script's, the install's, a file or the log.
if [ -n "${EASYTDV_SECRET_NAMES:-}" ]; then
    helper_ok || fail 2 "python3 (3.8 or newer) is needed to read the run's secrets"
    CMD=(python3 "$HELPER" secrets-exec "${EASYTDV_SECRETS_PATH:-}" "$EASYTDV_SECRET_NAMES" -- "${CMD[@]}")
    say "$ENTRY gets the secrets ${EASYTDV_SECRET_NAMES//,/, } as environment variables"
fi
say "training started (OUTPUT_DIR=$OUTPUT_DIR)"
if [ "${#ARGS[@]}" -gt 0 ] || [ "${#RUN_ENV[@]}" -gt 0 ]; then
    say "train.py gets ${#ARGS[@]} arguments and ${#RUN_ENV[@]} variables (${RUN_ENV[*]%%=*})"
fi
t0="$(now_us)"
if [ "${EASYTDV_SPOT:-}" = 1 ]; then
    watch_spot &
    SPOT_WATCH=$!
fi
start_training &
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
[ -n "$SPOT_WATCH" ] && kill "$SPOT_WATCH" 2>/dev/null
if [ "$NOTEBOOK" = 1 ] && [ "$train_rc" -ne 0 ] && [ -f "$OUTPUT_DIR/$EXECUTED" ]; then
    # The failing cell, in the notebook's own numbering (the traceback above
    # names it by its execution count); not an "easytdv:" line, so that it
    # ends the error shown with the failure.
    "$PYTHON" "$HELPER" nbfail "$OUTPUT_DIR/$EXECUTED" "outputs/$EXECUTED" >&2
fi
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
# Done: the machine ends itself, even if the app is closed; kept warm for
# the next run (EASYTDV_KEEP_WARM_MIN), it ends itself that much later.
keep="${EASYTDV_KEEP_WARM_MIN:-0}"
is_uint "$keep" && [ "$keep" -le "$KEEP_WARM_MAX_MIN" ] || keep=0
if self_shutdown_allowed && [ "$keep" -gt 0 ]; then
    rm -f "$SHUTDOWN_MARK"
    if when="$(shutdown_at $(($(date +%s) + keep * 60)) "kept warm for a next run that did not come")"; then
        echo "$when warm" >"$SHUTDOWN_MARK"
        say "machine kept warm until $(utc_iso "$when") for the next run"
    else
        warn "could not schedule the machine's shutdown"
    fi
elif self_shutdown_allowed; then
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
