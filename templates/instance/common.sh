#!/bin/bash
# easyTDV: what install.sh and train.sh share, sourced by both on the machine
# (`. "$EASYTDV_LIB/common.sh"`, EASYTDV_LIB = the folder the scripts are in).
# The SSM command fetched the three (and the helper) from the run's prefix and
# checked each against the SHA-256 the app sent (templates/instance/fetch.sh).
#
# Defines: EASYTDV_HOME (default /opt/easytdv), HOME and TMPDIR (on the disk),
# LOG_DIR, HELPER (the helper beside this file); say, warn, fail, now_us,
# phase_line, utc_iso, is_uint; S3 (s3_get, s3_put, s3_put_dir: small objects
# through the helper, big ones and any helper failure through the AWS CLI);
# the project (PROJECT_DIR, materialise_project); the machine's own shutdown
# (failure_shutdown, restore_safety_shutdown); the combined live log (run_logged).

if [ -n "${EASYTDV_HOME:-}" ]; then home_given=1; else home_given=0; fi
EASYTDV_HOME="${EASYTDV_HOME:-/opt/easytdv}"
# SSM runs commands as root, often without HOME; pip, uv and the AWS CLI want one.
export HOME="${HOME:-$EASYTDV_HOME}"
# Temporary files on the disk: /tmp is RAM-backed (tmpfs) on Amazon Linux 2023.
export TMPDIR="$EASYTDV_HOME/tmp"
LOG_DIR="$EASYTDV_HOME/logs"
HELPER="$EASYTDV_LIB/easytdv_helper.py"
mkdir -p "$EASYTDV_HOME" "$TMPDIR" "$LOG_DIR"

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

# --- The project: the app's manifest materialised in $PROJECT_DIR ------------
# (EASYTDV_MANIFEST_SHA256 in the command: the manifest at <prefix>/project.json
# must have it, and each file easytdv/blobs/<sha256> its own; see the helper.)
PROJECT_DIR="$EASYTDV_HOME/project"
PROJECT_REFUSED_EXIT=82
materialise_project() { # materialise_project <exit code if it cannot be downloaded>
    local rc
    helper_ok || fail "$1" "the project cannot be fetched: python3 (3.8 or newer) is missing on this machine"
    python3 "$HELPER" materialise "s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}/project.json" \
        "$EASYTDV_MANIFEST_SHA256" "$PROJECT_DIR" "$EASYTDV_HOME/project.state.json"
    rc=$?
    [ "$rc" = 0 ] && return 0
    [ "$rc" = "$PROJECT_REFUSED_EXIT" ] && fail "$PROJECT_REFUSED_EXIT" "the project in the bucket is not the one easyTDV sent: it was not used"
    fail "$1" "could not download the project from s3://$EASYTDV_BUCKET/easytdv/blobs/"
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
take_run_deadline() { # the run's deadline, EASYTDV_DEADLINE_IN seconds from now on this machine's clock
    local at
    is_uint "${EASYTDV_DEADLINE_IN:-}" && [ "$EASYTDV_DEADLINE_IN" -gt 0 ] || return 0
    at=$(($(date +%s) + EASYTDV_DEADLINE_IN))
    # (a retry's seconds left give the same moment, give or take the command's trip)
    echo "$at" >"$EASYTDV_HOME/deadline" || warn "could not write $EASYTDV_HOME/deadline"
}
restore_safety_shutdown() { # a retry, or a new run on a machine kept warm: back to the max-runtime shutdown
    take_run_deadline
    [ -f "$SHUTDOWN_MARK" ] || return 0
    self_shutdown_allowed || return 0
    local d when
    rm -f "$SHUTDOWN_MARK"
    if d="$(deadline)" && [ "$d" -gt "$(date +%s)" ] && when="$(shutdown_at "$d" "maximum run time reached")"; then
        say "the machine's shutdown is back at the maximum run time, $(utc_iso "$when")"
    else
        shutdown -c >/dev/null 2>&1 || true
        say "the machine's scheduled shutdown was cancelled"
    fi
}

# --- The instance's metadata (IMDSv2) -----------------------------------------
# imds_get <path under latest/meta-data/>: prints it, 1 when absent (404) or
# unreachable. EASYTDV_IMDS_DIR (the sandbox, tests): the same paths as files.
imds_get() {
    if [ -n "${EASYTDV_IMDS_DIR:-}" ] && { [ -n "${EASYTDV_SANDBOX_INSTANCE_ID:-}" ] || [ "$home_given" = 1 ]; }; then
        cat "$EASYTDV_IMDS_DIR/$1" 2>/dev/null
        return
    fi
    local token
    token="$(curl -sf -m 2 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" \
        http://169.254.169.254/latest/api/token 2>/dev/null)" || return 1
    curl -sf -m 2 -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1" 2>/dev/null
}

# --- The combined log, shipped to S3 in chunks while the script runs ---------
run_logged() { # run_logged <name> [--raw]: re-run this script under the log helper, once
    [ "${EASYTDV_LOG_WRAPPED:-}" = 1 ] && return 0
    local interval="${EASYTDV_LOG_INTERVAL:-2}" chunk="${EASYTDV_LOG_CHUNK_BYTES:-1048576}" args
    if [ ! -f "$0" ]; then
        say "no live log: the script is not run from a file"
        return 0
    fi
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
        local dest="s3://$EASYTDV_BUCKET/${EASYTDV_PREFIX%/}/outputs/_logs/$1/"
        # A log goes on in its own place (a retry appends); a new run on a
        # machine kept warm starts its own, with none of the last run's lines.
        if [ "$(cat "$LOG_DIR/$1.dest" 2>/dev/null)" != "$dest" ]; then
            rm -f "$LOG_DIR/$1.log" "$LOG_DIR/$1.log.ship.json" "$LOG_DIR/$1-stdout.log" "$LOG_DIR/$1-stderr.log"
            mkdir -p "$LOG_DIR" && echo "$dest" >"$LOG_DIR/$1.dest"
        fi
        args+=(--dest "$dest" --interval "$interval" --chunk-bytes "$chunk")
    fi
    export EASYTDV_LOG_WRAPPED=1 EASYTDV_HELPER_OK=1
    exec python3 "$HELPER" run "${args[@]}" -- bash "$0"
}
