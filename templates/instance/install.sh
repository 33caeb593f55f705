#!/bin/bash
# easyTDV: install the run's Python requirements on the instance.
# Run by SSM (AWS-RunShellScript) after a prelude that exports
#   EASYTDV_BUCKET, EASYTDV_PREFIX, AWS_DEFAULT_REGION   (EASYTDV_HOME optional)
# Downloads train.py and requirements.txt from s3://$EASYTDV_BUCKET/$EASYTDV_PREFIX/
# into $EASYTDV_HOME/run/, creates the venv $EASYTDV_HOME/venv and pip-installs
# the requirements into it.
# Exit codes: 0 ok, 2 missing setting, 3 download failed, 4 no venv, 5 pip failed.
# AWS-RunShellScript may start the script with sh; re-run it with bash.
if [ -z "${BASH_VERSION:-}" ] && [ -f "$0" ]; then exec bash "$0"; fi
set -euo pipefail

fail() { # fail <exit code> <message>
    echo "easytdv: $2" >&2
    exit "$1"
}

: "${EASYTDV_BUCKET:?easytdv: EASYTDV_BUCKET is not set}"
: "${EASYTDV_PREFIX:?easytdv: EASYTDV_PREFIX is not set}"
EASYTDV_HOME="${EASYTDV_HOME:-/opt/easytdv}"
# SSM runs commands as root, often without HOME; pip and the AWS CLI want one.
export HOME="${HOME:-$EASYTDV_HOME}"
RUN_DIR="$EASYTDV_HOME/run"
VENV="$EASYTDV_HOME/venv"
SOURCE="s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}"

mkdir -p "$RUN_DIR"

echo "easytdv: downloading inputs from $SOURCE/"
for name in train.py requirements.txt; do
    aws s3 cp --only-show-errors "$SOURCE/$name" "$RUN_DIR/$name" \
        || fail 3 "could not download $SOURCE/$name"
done

echo "easytdv: creating the Python environment"
command -v python3 >/dev/null 2>&1 || fail 4 "python3 is not installed on this machine"
python3 -m venv "$VENV" || fail 4 "could not create the Python virtual environment $VENV (python3 -m venv failed)"
echo "easytdv: $("$VENV/bin/python" --version 2>&1)"

echo "easytdv: installing requirements"
cd "$RUN_DIR"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
        --no-cache-dir --progress-bar off -r "$RUN_DIR/requirements.txt"; then
    fail 5 "pip could not install the requirements (see pip's error above)"
fi

echo "easytdv: requirements installed"
