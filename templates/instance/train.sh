#!/bin/bash
# easyTDV: run the training script on the instance and upload its outputs.
# Run by SSM (AWS-RunShellScript) after a prelude that exports
#   EASYTDV_BUCKET, EASYTDV_PREFIX, AWS_DEFAULT_REGION   (EASYTDV_HOME optional)
# Runs $EASYTDV_HOME/venv/bin/python -u train.py in $EASYTDV_HOME/run with
# OUTPUT_DIR=$EASYTDV_HOME/outputs, then ALWAYS syncs OUTPUT_DIR to
# s3://$EASYTDV_BUCKET/$EASYTDV_PREFIX/outputs/ (partial checkpoints are kept
# when training fails).
# Exit code: the training's exit code; 2 missing setting or environment;
# 90 training succeeded but the upload failed.
# AWS-RunShellScript may start the script with sh; re-run it with bash.
if [ -z "${BASH_VERSION:-}" ] && [ -f "$0" ]; then exec bash "$0"; fi
set -uo pipefail

UPLOAD_FAILED_EXIT=90

: "${EASYTDV_BUCKET:?easytdv: EASYTDV_BUCKET is not set}"
: "${EASYTDV_PREFIX:?easytdv: EASYTDV_PREFIX is not set}"
EASYTDV_HOME="${EASYTDV_HOME:-/opt/easytdv}"
export HOME="${HOME:-$EASYTDV_HOME}"
RUN_DIR="$EASYTDV_HOME/run"
PYTHON="$EASYTDV_HOME/venv/bin/python"
DEST="s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}/outputs/"
export OUTPUT_DIR="$EASYTDV_HOME/outputs"

if [ ! -x "$PYTHON" ]; then
    echo "easytdv: the run is not installed ($PYTHON is missing); install the requirements first" >&2
    exit 2
fi
# Fetch the script again: a retry after a fix runs the fixed script.
mkdir -p "$RUN_DIR"
if ! aws s3 cp --only-show-errors "s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}/train.py" "$RUN_DIR/train.py"; then
    echo "easytdv: could not download train.py from s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}/" >&2
    exit 2
fi

rm -rf "$OUTPUT_DIR"
mkdir -p "$OUTPUT_DIR"
cd "$RUN_DIR" || exit 2

echo "easytdv: training started (OUTPUT_DIR=$OUTPUT_DIR)"
# SSM keeps only the first 24,000/8,000 characters of a command's output:
# keep full logs too, uploaded beside the outputs, so the end of a long
# traceback is never lost.
LOG_DIR="$EASYTDV_HOME/logs"
mkdir -p "$LOG_DIR"
"$PYTHON" -u "$RUN_DIR/train.py" > >(tee "$LOG_DIR/train-stdout.log") 2> >(tee "$LOG_DIR/train-stderr.log" >&2) &
child=$!
# Live progress: the logs go to S3 every few seconds while training runs, so
# the app can show the script's latest output.
(
    while sleep "${EASYTDV_LOG_INTERVAL:-5}"; do
        aws s3 cp --only-show-errors --recursive "$LOG_DIR" "${DEST}_logs/" || true
    done
) </dev/null >/dev/null 2>&1 &
uploader=$!
# On a stop request, stop the training, then still upload what it wrote.
trap 'echo "easytdv: stop requested, stopping training" >&2; kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"
train_rc=$?
while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    train_rc=$?
done
trap - TERM INT
kill "$uploader" 2>/dev/null
wait "$uploader" 2>/dev/null
echo "easytdv: training exited with code $train_rc"

file_count=$(find "$OUTPUT_DIR" -type f | wc -l | tr -d ' ')
echo "easytdv: uploading outputs to $DEST"
if aws s3 sync --only-show-errors "$OUTPUT_DIR" "$DEST"; then
    echo "easytdv: outputs uploaded ($file_count files)"
    upload_ok=1
else
    echo "easytdv: could not upload the outputs in $OUTPUT_DIR to $DEST" >&2
    upload_ok=0
fi

aws s3 cp --only-show-errors --recursive "$LOG_DIR" "${DEST}_logs/" >/dev/null 2>&1 || true

if [ "$train_rc" -ne 0 ]; then
    echo "easytdv: training failed with exit code $train_rc" >&2
    exit "$train_rc"
fi
if [ "$upload_ok" -ne 1 ]; then
    echo "easytdv: training succeeded but its outputs were not uploaded" >&2
    exit "$UPLOAD_FAILED_EXIT"
fi
echo "easytdv: training finished"
exit 0
