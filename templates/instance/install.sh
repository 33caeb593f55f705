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
#   EASYTDV_LOG_INTERVAL                seconds between log uploads at first (default 2; up to 10 s later)
#   EASYTDV_LOG_CHUNK_BYTES             size of a sealed log chunk (default 1048576)
#
# 1 download   train.py + requirements.txt, one helper call (both at once)
# 2 python     the Deep Learning AMI's PyTorch environment, else python3.12
#              (installed with dnf when missing), else python3 >= 3.10
# 3 env        uv (pinned; from PATH or PyPI) creates $EASYTDV_HOME/venv;
#              `python -m venv` + pip when uv cannot be had
# 4 cache      s3://$EASYTDV_BUCKET/$EASYTDV_CACHE_PREFIX/<key>.tar.zst + <key>.json:
#              restored before the install (offline install); after a fresh
#              install, train.sh saves it while train.py runs
# 5 install    `uv pip install -r requirements.txt` (pip's format), pip as fallback
# Everything it prints is also in $EASYTDV_HOME/logs/install.log as
# "<epoch ms> <o|e> <text>" lines, shipped in chunks to outputs/_logs/install/.
#
# Lines the core may parse (stdout): "easytdv: phase <name> <seconds>" (and
# once "easytdv: phase boot <seconds>", the user data's own run time),
# "easytdv: python <version>", "easytdv: installer uv <version>",
# "easytdv: installer pip (<why>)", "easytdv: no requirements",
# "easytdv: cache hit <key> <created>", "easytdv: cache miss <key>",
# "easytdv: cache corrupt <key>, installing afresh", "easytdv: the environment will be
# saved for next time while train.py runs" (train.sh saves it: "cache saved <key> <bytes>"),
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

# The helper (templates/instance/easytdv_helper.py, gzip + base64, written by
# templates/instance/embed_helper.py): the combined log and its chunked upload,
# S3 for small objects, the cache key and description, uv's download.
write_helper() {
    base64 -d >"$HELPER.gz" <<'EASYTDV_HELPER' && gzip -dc "$HELPER.gz" >"$HELPER.tmp" && mv -f "$HELPER.tmp" "$HELPER"
H4sIAAAAAAACA81dW3fbSHJ+56/oYHbOADYIUZLtTGjTidbSrpXx7ZjyZGdlLQ2RoIgVCXAAULKs
YX576qvqBhogKMtzdpP4wSSBvlTXvaqrW47jRGF+c3L4s4qTvAiTcaRm0XwZZX15MJ8H+UxdZ3ER
5SouVJGqPxwdDH+hHqOXb18f7czj8x3lvrspZmmi9oMfH/oqLyb0VKXJ/MYLOh1rnGhxHk1yVczi
XE3jeaSuouw8LOKFcmn8It8posVyHmKu8SwaX6JppMbp8sZ7qoosjBMapbPKo+pFHcy0iGjGbJUo
/MNnSK0WizCZ0ABRREvIAV+6KnboI8qyp7I4Ho8AISjCxTKaoNd5nESTjtL/5umFcp1n0TIdz9Qi
f66epb9F9H8RfS6eO4pQpubUwVM0l8pn8VKja7hPINJyVsll3smiX3MMlqTZIpzHeUTw0bNVnEWL
KCk0VtzrWVjICkPCg7qMbtQszGdR7nXwHf/wNkqu4ixN0LNq2VlERYgWsq4dlcdf8JFF4QTY4HaT
KB9n8bKIiWjufw7fvvE6qytZ5zQqaIEYfhknhABFL65nUTRX0yxdqHc3745/yBX6qIN3x7zaVbIM
x5fUkNa3TLOC1hcuosGAqJtjhnSqeEUhDblU3a5upSlHOL6ICp57kl4n85TgTJMIiEvP/x6NC+VG
nwmX+311Hl9cEJ6LWZjQMIvwc/f8hpjFV/NoysgG2Af/NVQvXh17neVKRl0tyzEZvUwUvJ3EWfk2
VNN0PsHgeOurH7ltrhhsMEYFhbxIaXXqySP1Ov6juo6yqGKUTVh8Wn9MWJW5mHkX4IplmBVE0w54
hPhymV5GCclfFvnEIeCALF1dzOojTdNM5cQ8c42dvK8ioqn6FF7nnzpjvCC00rgEtxbLZZZeZOEC
dAD/E5KV2wv2AeSuyj2fiRiyuCzCSyyaKPElSjrUAaAG6j3xKARUhVlEDHUBvriOi5ka0vewWNHT
nzWxHymXZZdahBchaNw5T4t0nGYR8Q33zbD2hsCTgI+zaEKsHIfzHOIXCcM1GN3vRPPcelWqrSyF
5By/Phxe7dGS5vGlCPXw8Kf8B2L4abiak5jMoEQ6juOQYlowG0KySF+VPxfh2HxPc/Mtvym/ElVI
lOLkonxA3NHpfKeO+ScwAxIqUlMT5X6Jl+AXn1aUjFdZRksIpitgjNg2CAKvz1CK0tWUo7HyiNgr
nItKYuWi1ZgQiymupx+nIMwinkOf0CyTnFRghxasRovc9frMmFlEUyaErcLFkAH+cz31QO32ej3P
tGeVMSIWcqc00SQsQt29yG76JYMTLxOq8bZ6xkpNDQhjAQ9SDVBrgifUCh+nSf+M30Wfx9GyUG+H
R1mWZtWQyzAnXfmdGg5fE17SJbSyxnyfFF20hEq+AB06nfEcjYekdWG6eAgi8YdK3Fh9h9Cvn6NJ
l1WiqOS+ekbKsHj+7El3El/E0EqT6PPzgNoTGjHQgbRkCY1CUlekSYjfpiuSNNAiAam0aBumf8rW
TyYOc2JaDHSRpdcEbjVcFnXLbsQzCSwGMWhyEU0CNSxILFS+yq7iKxZJImF2QzLcMepfVDjNJL9I
5ZL4jmdkhMic6iXTLCHhJMEUReoFzPhMCdB7FCdxMRq5eTSf+mjvwzIUvoAIS04weBVJNMf9PU+T
TvkQnQPuy99kAP4qCx3YA5POdnf1+F59CJ5stAxJqwxk5sZ7Rr4eGpqTFAW17PnqDan2etvrMIOK
Gqg/kTKp3tXYmFkZOiwl/LiyVGaRehMeM7zi0bDwAARzp3W+jqfSJiBL5jq8OsdTg4GFh5ZRq1XR
2BBNHuPUkWfOmdfepVq7Nad+6FR9tFy5WrB89XM4X0X6+0/Rjf52crOUh14dQohfxSpgeWaTLdzQ
eJavzsnojCMzRCvyWQpZZYDoWAaeuIafNlayoSEsxXaSrSoygxoY+1kNxQ9sYkCxGBm5DiGKZIbG
lrv3rWzH6mCgna0da6pOBWlemBZdaf+grV2RTlJqd+rGthh5bPhjWM4MGsKtAYfRvDMbATwbu6I2
3P9C46Ktz+/P6qjExIFoC9etWnmePS77JdTw61S4nt3QMmpI2mCB8xU5CqQWlllEmhnYWc5JI+X7
bqlLvG0CW6odJzt3WHLzbLwpZYw26HR4ickFdYfzsbGCkubZmLAaXbrcp0Yhr7WDNmnoB+vkyiTt
bfMZmmqHgyKWcO/xE5etZDCLPpP9ofW67V3h9w/U1LkVVK1vGb5+78lkDSw4rZ028F0DZn+UiVvn
Ou8+nDh+SQ2aS4w3o0wA9AE84Rrhzg7JCmwc2aosj4rBqph2f3S8YDxP82gL/FqGh/ssw6BWVAqh
9m3JONwohALG73VDuK6fb2AXL5P0mjymPLzxtq5oPI8hOA55wrQaJ9/H/+Ml/u92YZC7+Sy97kaA
gFt06b8ptevv7NzK4tc7t7T6tXO2dZIJ4oiBpeEC8ptdmtonxqKgYiCIkyBzYDU7PPr5zYdXr/gV
gWC/enf87mj7skjqMGkgQjZOJxHkuLedspX0cT+Zj4QJXV1HqAWxEZ1HhMsL8iRc784BKfrOI0M/
N2JzvcqBv9to/VQRzvvqlmZdkyyyd16TfGOMdH/fKHNPOKGzCTrB5EY11YPn5M9AA2HsftMC44Vl
/bcY3NI1qCkr889ygfd85U45PVJMrvrkZq/mE55DR4zGfFAUdVtqq7Ug4bS73+v1z9YfE8JuxDRz
Pa9NZdYdlLpLAB3c2WL6bTVe6nsOje7WuA0FajldD5UTFAuWlmtnmyfEHtBktVi6t9rN6VsaEkIn
vku/bjxL96RfW8ea2KeOFXIGNFveAV/jzf0cBfZn2uyViR5ekeP8Kr0oo4chTFEuoRYxYxQiZCdi
I8uTK/fjx8RXHz9m9Kmg0IgXSDHQA8kAiR2VGZ1nnC8qwguTL6JOjskRmEwTmKnyz18f/IWo/OTx
4/0nWx12XvyGP5ZFDd+c9BDcLNAcPYga4bnTcL4BLGKTgbpdNz37MXz4MuoNXtEDt9H9nF5e5tQs
iwJaz5ICRJesMmEn+e1j9hvEoFrFNIomegWEklqcKT7BVA1qULGHy03PHeLMh9yjbD9L5xAWemUr
CxolAAHA7y4gcTy2N2RjziUx8DFDQiRUAFL8DhWOszTPOcrMG34KAWsmWk1P+93dM0BDw1Z5H+aL
gY2QgId1qYfXdAO5dbBMbbVLYMPestOlnuuRiBHqjCw9tZ+WbXhIenwbHTYuTwmPZ0woavaQ11Rv
JxpQ0M1TWZRjAz8SYagoaNHO+Lg28bDGknjNlvhgbBod1iSa6DS8aXq3/U1f3Yb9lFWjBbx+aTGe
LK/fdG/5cZt/WyEKSWJxxzjHsla3NOCaFJTR9Z2Ge0hrD/6exhxnUteHPAl90CJJE8BH5Qfkmmqc
1/R1KYgNh73NvTMir/MwmzmYWqPpfJXPGpb/Li1aRYad71S320WW1q2lI8lTbEsKdr/6r3P0+t3J
L6PhywPyijfdZHBPzUsevj549Qo68pF69kzt9SDdOkGsU7cEQEsyVrmL1byIYYKgQjOkoOdelUTS
Hs4RY4GA1wzSon+NCwSVjgTfJBoQkBXC8tUyylwvKLuhYUvWA2OIEYVvNyjHxU+Tmltlc9bg5LL7
nBUk6pHqjDPC+YCdCD2xtgLUHsjTHr5IARxJ7lB63mX2FJsGzKp5lF3FY/LNJa1lXHHtiTcNaH2W
4HwVzycjwEnrbrx7h/4vyTTO6d3t2vOCjfUM9KfX2T5FGx6qfhpZ8WKSa1tXIKc+gE/kY5GzdDJw
/nyEaMd03vs64mZkEIiTYR2dv3TJ1e1G472uwVmX5yDXhj/XQDN/E9W1vUe3KOZdnbKl3s7e7pNe
zxHz+506KXPXFGIVpEjJvw5JPc2IKuFkQtot17tmJHGkP5J0g4i8eTGfB4b45FzpTLrkjEggRkcv
9kavj04ODg9ODkaHx8ODP746OoQPSNI2T6/Bv8hjOQW5So6l6GvRQA+B4V3sBL99EufhORxbd+u8
njYQ52GuM0N3wzs8ev/z8Yuj0dGbw3dvj9+ckLkgTDizolhSSLf75N+CvcePAv3paK76lUZuMJXe
3nAxb5BJNOTssKshXKQ5Rz58ww8D/SlAs6a+W07hb7JnnfWbkpRJ9sBrhGmVXnpR7Y6ULupJfW/k
hxyhOykOZryN3RF6Xe2PZNGUWGimM17T+IqIFicrbL2eR2SPuP8N2YIlgX5H2thWd/d2FwVK/ioT
5DpT5Kte0KtmAtUbk9xlD5H3M8OD4zAiGMKtzQTv3N4DeV4HpKsodPO22NVWwMX14LRwa4hX9pSF
/QfUezwWXqqQKv2/kmsnYtfkwnZd6FElJgcvXhwNh6Ofjn4ZHR86EpLUGgyPXrw/OrHaOV5rSs+l
XqctQ5L7W77ZHEve2rMNh8dv34xO3v509MbxPKFzY6ljihWTSZjdkTIWvTrQGt7Z4a3DYidcxjui
hCslj5RWgxzYIdzoC1XVha7aicPFDqnjFflNN11rM3LH0WbE0/48fDbvtHfWmjeZpGN7pyB3f8d8
pHcArJm26Z4ZxjMIY06+WMjOHsG0ZM4mQE6dIzQO4caAJs73v3S/X3S/n5x8/7L//ev+98O/Ou1p
Cel9MEZ66qfo5niC7vxsGBGoRflGPxdSnzANQN4prb1wNagbAXrpW1V5wCT9NewrMgK93i7JYJjc
qGkYz+FELqIwyZVDBs5CEtIAYSx7cS3Zoyk1F3+6WSjB4t+iGuEtrhJoLVgp5d5Ga6+eVd2weZiE
vUoLrrYkWKdD8nF49Obk+ODVkICzVLlb+ixZdEEIqfZr8WuLDXx/9GcSJjF2be8Pj/508OHVSdmu
U0ZNGHTT9PDjzX1e/Xor/3KaBjjdkRGIJPeVy3rK8X5c0fk6HfQC4TGpClGalnWKAOf5Psy1W0t7
yxBeaWLdfDyjRZI7MUvzwuRciIuIqSZLiugKrgTJ4gk7OdozIy8HDbt5cTMX9nTDvCxHIIHxnjLA
RLhiFc67GBt5MiJo1Y/DQgGOC2pyNn5iMdIiR3pc91for67LDOUiNDU8J8Rw4ygr4mk8xgYnW3K2
+MCFdoOWSOMbLfzrKi10BknvxTqskPi5yzjKwylFOjv/rTmrRMQWj007Z6MP71+Nhvvb2dZuWDGt
GX2DL80L22Hza8Aawgq8pTvXkdhsKjtOTrgIv6QJuejIXAVjCsdLUQmkHoPTEc446Zp0RL2PY0B1
AgcaR6bdgHfKfmlOnJTvB7cywTq4FUDWjgFdE9wCdaO/2asItgzEPbVaQTmLUI2Dz1o1CN4FSXRd
vTf5C+N9+o0onNxTE35rEaJQ3y3d4lJCShcZP29gB0cygK89VIHa57IH30QJA2zZeDXv1kReFMKT
aLFEtJYckQIgFz67QaaWvM6n6hPA+ESaRKiNyiGKhaDeb9SH98ddWeiERPlzN1x8gUYjeyvfKSIr
qEPXgMzlFSTVpZZkL4QrNgou9SHBZ+cVtuVgRcjI4i9sdAP1Sa/gk3I5nOqOEduwOAuLWxVVRZoS
4Bj3E+sSZQz6alyMuAaNuOvDyYtSiEO2wsAfbLJfukfsbNqJKjPQlD0DcgO+X7AT8P1ruABCBgFn
EsrmC/U77f8o22AaPIp+L01MSOGqKjNamXtlXCNP9qkvfXUFYPXig7iIOE9mDReslsC5e+uAbSj+
Fe5xKnJgswBwlA/rdKHXdd5alzqD8WAFJjzhqR6ldLnEMiEZyt+4uehZQgBXcrnSU8YdU/SdkBbF
7gs8QFl9OcmpkQKdY+cYWtpMndtk3b/VYCS8LcRoQkGW5gVq/VQ3Nw/qqxNSCCj5mGJMyT8SvdY7
Rgns3GpJWu+Qbnpk9ncdzbUjQFCDnv33R92Xrw9edCXx5vgG6TxJUwG4JRaaqqKWnNOlK7JpLTpo
83/W+o+g84R/vU3tQ6vzSptc6gkgq7Y+r+QrUQyDpmqTpX9duzV34WXr5BYuhSFeg3CcNMZ+rLCx
VISxEaYWlbyIVFgisV6bCYgGtspghqzYarpBIct9HNyKBgDhQa215F6jyUudoLj94ekPNlOtreTs
4LZE2NqxmEsbB4LM2BDyk3jP3DWJyfN0clPPmplNJ53BzCJs/WXjGXaBnr2gh8/d0789O3vgPdvh
X44MAleg3BYgAPPwYrP7a3lejWAetA0CKwYWN9ppEVxk6Wrp7np3bIAzdbgi10UT34DigbqLGlqM
21ltf788OXmnbuU3NgIIgLVj/FtJ4t4LBpqKsScehuNVTqop0zAapuawAgM6v4nSokGPKzUGdjKd
i0+hOUfFzTLSjQm+KB88qszt26Q0RHrCp1xzGHPFI29w5qg2TZJoXLDxftzr4b995Q6JzQ/Ta4qQ
ebRPAIptGNdny/4oSpM5tCpQC44kmXjEWs2pkBNSTArec6VYREZ7z5iXxuiG3Z9lmuS6zBHjRpls
2rH48S4VTitU3m49t8vMfEfO907/mJ6xqevU47QyfisTmL7xn+8IMyS7nPJWmBmYs5AeKa9ino47
poQpLFAqXVT1X0w/K2dj5ajXdlpImIZzuAi96vkUO7H9QlvXV1zAxMaX2JxYCurWvES1oNOv8ROn
XM/jJMxudtJxEZF95g1CZ92EzZj8rU7j7VqXGVnxMscHXuUxsitzsZDknbe50Uac54owaX5zWVuJ
WOGr5Zd/JRVcpn8xtq7ruU8muDV1ZaLp1g2MJ72NHInNqwF0jFU4Vc8H8fOBpaajQLRYpHPKG7Wq
0sBYKVfL8R4LM/571JL/lKhbJtte39NSbOpV4XylPJB/RoH8Dskye64mU374Zti6Oivcl8qgalFT
4r35/GYjF0zGnaQmc4VwDqsFp2VleL9Ru0b9jcg9VLvqmejLRjaSvep5FC3dXrD3WD1Qew8e6F7a
aFRIq9Q5GLpeamdKo0esLllBV3r5UB+K4SAITaH2ZFcOv7iWxgukkKgMSszRGVLB8zC7iDJdNR4m
1TyImooZqj6wVVwgv2n0pWTZrQJB2TKzoG5uY+jaSrLdgZF2DuwbWqWG4AoSq6yLVbip1Gw8Ro20
rq9Uz6vu/a8XVqV5gKMtkzjLXVNwTD/gFZW/w/Mcny5XnZLGiT7HeTFKL2XbprNZQTWRGgqHScB1
U7oQlTi5WdKGIxMYZ5P9zvWWid4B2pXd7M09e12dcL6571GOhKKTjTdVLQB31Y5tVWfVXEVVdFuv
kmJX0Fb8rlV/pI3jgiQCr/KOPUD5NLggbsqtzqe9s63moxKY5arQu7k2A+pteXbXN8sFTEjAJea9
Tp1wOkQzdcNWnRun3JggMY5jkOs+Dxfnk7CvpnXySDlLnQ4Ci7FyFrZrFe8PB1zlYxMDG+aIr8vJ
mlB6ZU07m7GyXen2fqWYV2YQD9E3cFrBjt9G2aqgV1PC1GaTaTJkF56kB7VUGVfU6s3YHcfYGWp1
+rh/1r87kYsMveIBZAU7CCJ1WrWvbmmQtdklrlYodhyjmy0abNrs1tjYam642VR/uFNyLDhH4avr
NLuERf+x0sDTxMVLCRNQFnHDjX31STf+VB0TfMral4BdzYscq04zUoalYtUvcNhmfOmXtf7QcGdk
P8AYDIfnb2yhol6JaBUlq0WUgcGkoVXhBGjsLcRtWocFoV2NbK3w31IJVfYT/HEuZZJyzVdvoy4N
Kz+NEd8ajHa0WRLnnRBRLfqEv7kFrFcxwNIE/6PKBV5QfKcp4Fuo8/RJCLQuZAuIx68WVAi3aiVx
VzuOIWtspNdRxsbhjfa6cMSVjIbG/zKDsbLqh2/xHuXBEVK0qFAa5De5Ls42IjZeTNg9oEVfVfyH
mvhT67yrenO2ISF/On51pE75aRAE8pO+nPlKHyXG+bCO8Vr6qofKkPLALXTDPp+QRcxmnbJ9Q7qm
5Wytrx4p4/7FOHyY5/Aj3Ee9R7yJ8YiCQtkiPIwSCiD7JOXYY0vya5RncTxoOgF6pHc75R4tB4g4
DCDVeGSOSJbL4hezLeiGxomsMj8+4kxwtujV6VSStxRLgU/6tTIwgpseFqhtIme98n0qr8Q6vQJ3
kGhy2t89Qyh16ljkcCyVVnb2ub0+18Vdd888eXi6p08+LsOYY69TaRCf6fcxXM6zjRM/PWFy5g3V
Vbu+2iNOt45oQW/H9jmubUFIj82JeKIPSrWOzmSQOfNI31DhWi5Hx0/7v6ug3xKSqVPV0ZenvW/1
zBCMqK41DJMMUAvC3nyEInNOtlDrHhcnEdeB6ewWiG+kiokjX5sXnTaMPGJ/VE/GS92tElqgUWUr
OHvCpKvpBZxs5Ma+OWw86LHZ3jX2T4Yyg5fyPg6b8k5PvibvfcvJ/6FMsyT62InZ9uASnjDLUN3j
VvcJILOGRxdphNsQyAxfzAopbv9CA8gWeZj1UVPGdyyYfQ/cHBDnlxRt9PhoCZRGQ1s0QoqayP2Q
a7YXTFYMgOsgwpy8LVYspTaBayZ0peePtWFFbKH3NuRMsEsTmxXhAG2YsEvCdxK0KQ4iXkoTnM8J
NdPCDIbz5hJMWPOoxYp8SzaIGb7xLQY0x0Va/B+oC0lGa6MBr/58NZ2ayK52QLs9eqsknYclSW8G
cb8rkPunBnOWgO3//46ozItmRbVRuXalwx8zbDi9i/XJ22puKfvUzHcREkevlnczOAspzwlDjysq
AjvonayWewhwOaDA7+gq4YND9P3t6L/ev33z6hfUjwJwQmiS2tmir+ptzUe8eW1JjZZMZwMJjzvf
Yjq+ZXrLbPxTTcZd5qLU6IhXLY1ek00dzmrQN4SSpP5u1vm9WNOH1kqc8bE1PWUDgXraxoomcdYw
U/oGlaalOjx+X7NWcmB1p68jJ76C5Tyap9do+VQc0U51T4u4olLBT8xPYL7R5q26YoG0hzY7Kc7c
sIfqwlHkrQptHdivZv1vNH+ps+fxIoYu5SME36Swued9lHWejX3l1s83E2OpkvAbdJduOErhY3Xw
C6nZaRXLELIlJTDyNX4QXubBdTi/dGk+r57GQG4LLfRWNvdoJCz0oXWTAONgp5wF/ZshnN2afnG6
TA4iYv4ypURN8mjJFS31EVwsTCrRa2f++fw6WQEhDAsUY8JrnEfX58QfAhQtKKAtJ09OG74wB5h3
+MJaEtGMCWJoxQ92z7zf5eoKNAbqjaHuIaAaHhbQxslkPZwWVx604ZYK0kqOEaRxxEyIt65W2QhO
0XLNdSw49XHLdFgbh6glAmwLYbUcCQr6m+rEtuV8RC/WurNnEkyzeDm6CJcuQRdlVyHOt4ZWLd5Q
zkqQ6SviuQ7sPhd8CFew11efTNdPpvZzSo56Uda2wwsWZZPTOq9RJ4e6ulnEHmJccA5Fsi9RUt7Y
gvCUxsA+3W5P5eI30ldxAM3Q0wjB7XBfvftwQliDnyMqj/sQbvf9J72ejn53e91Zuspw6ZLcDhOe
w7/7Qy/o7XlWuqiMLSqcIO2xS+0YO2pHPaHvnp1BwIF0S1WbOzmiOQULaZbXHiJynnfuuLojXSJd
RcPyzmKpkOIqrcqeWKyeVdFp7Uidjm3ZqHa7jQ1IGbeKelW/fvK+7oABllM9XjDXZX9dxzurjWHd
g4Fk617HXN82MGd8XR7Iwb0JZ2aj5rraOeWEEA4IIjWBDTLXSXmvPrzuEpFQOOI6kXlCvO949SVj
ePaaqzz1nWf2aBhzLlMcNYBHfc/0nsK3H88TKedSdPueAR6dcN52PwEuIdh+OUF1ejfNrsNMSqNW
C1IDGezEHXoW45A5SCYjYTbd8xtObZdEyWE9iB4yUDA8/vPJ0fvXvqp+H785sX++/PDOq9eB0fMK
DN+sRq8vlwukfPZgTQa2PJpS5SaPrigSQkbWDvhKojsTrkmyTjTr40wV01UgyYzwReSbWz8OX3Xx
W17wRI030OwVKHwsX7sxnI/f7T368fG/PvHqnfRutxMAngCHF5yqgbVnp3UQgQuVRHrnsSn1r6Y0
jWS+Pcuf5aQr22reOV2kZPdQTOZ61ZEPsNg8xbHoth00vuKBaEM+T1y4LfaiObDqmlm9tjM9gvOA
bzeygCgJvy0dDQhRFhDRVI3tQelSJph1+elczgmJAg4OJUE01A/MZlU0D1DlgESIK1LDQupbPY9+
PnqDwv6DQ+iglDc57uhNory9NzSYIY+gF2PQ8kaLsIZ/rl3DNhJ7EmgkQ7qmfGE3aJ6YYvU5nUgt
alA7r79VC+oKDt6aJFSjI26R4zsQWlXgMcierZZE3S26EJtaZJ6jtqtCNi+wM2jEMRCNSAaCUJOe
/30zf4ALG2pH4nEY/n4wtF211wSSRpPk7/UmmFtv9jGm5M7j37WGbUfA72NnNi7VMCjh+x2qmx06
29I1m9lpmCtmXRZv7w5P4F4cUMM8ECpi3XqHDGuVPLJn1ZJsbQHZF83UVMfWupDdxgZwXeHY7vHe
j6SrCAM4fDAmZ6qnbz4Ya8euvDJ2MrJvjLU34RGTx8sf8saVsuiImFUq6ODT5BHXx/X5Ukk0ouhn
HiaX+g4Liq/1GQnC6UouBiECkg1ZUnSnJhmnd3z4rjnu0ODHOZmESSR18BrxXM8qY/J4wGQ0kR1S
3hYFKS45tlpdqQu+5zAKs3nM5XzWEiheSVGyvVHQZ8pOm1v7XOhLYA/KQku59Glg1VvWN/513aje
5a/VkqIadXXuZs7Hjx+zf/+YOFLdXR3mNzd/WLG6uc2BD1VwqM+NbE7hJtbo7t9++5h73wUP/qAn
4OuEm83Lwlb8Lovua1eIxM27kWo3hlSjas4T+ujoAfsDI2IRF+xG8TZfIOtz+pEi4wVqYvu1Olsd
Qnaj5Koruwu7HxPpRu70xwQ9+Qt35m82aT8meOIEwqSV86MnLn8zANaBURqr+lnVswNq7drU1tgo
Dmk76lIv/raCqejX3I5qDLG3yaPJrTf4Umd5+HKlTf7crBqqcsyORXD4aO0XhnjWrjPiMPtpmUes
VgUSW4vCYkYiOi0k19FVY0VWn9blWMKFppZw1QTCgvs+3Ld1RTiX2BL1lrdTNjSGCUx7Epgyqp0a
+nXpzN2o8ctbrDPfJOl9U3YkNLci2t+FPF2qmje1k5TMs8t0W2vsENxOn6GvP7f5lBpg0EYLWSFO
1jTkj99iffSuLov8hnFBrxqCKe8Mgpy+hazNkQlzenDgsP4eCOXuha5Irr8eE1oKvnVs46DTxnnn
ZgVxNdS6hU7MB9tFtkGm6nY0EIYcYJ+vnkzIQ/Y5DwvmzhsBQy3L32BLLBbLUt8xT03U8P0LNTz+
65F6++GkX937a93n7gv0RbXPy9duf4laVlcqpfssTvNa6x24eHcqVDqz8+J7Z962affP/lcR+x1v
TvVF0yjnmcbNc/VMM89z5ylvn6ldKaKtzoJv2WD9x2Kw1B0aHITYjFQjGme+fmCY/azpkpInwQd/
yZf422mv+29hd3p2++TR+mNAsejHwP2SF79dfPHgXuhBPbk4pjC/7SI+Q79+yxn4qrjbNSN1fteV
w40MuslLW+fw83gSjVGLsKVuqjXLLOM0UbrVdKyuGjtb5I3+fPQeN1aow6PhyQhbWsdvDo/+gqPJ
6uD9i5cie4swuSEztvps/kICoRNvfaWvwJfMrlyDb/50gjlVissFaSIpfdXbuXwItJxzZ3XVdHib
5qzttiL9ZxdMXbm+/JYdMcuQU0/4b7frneXNMqapdugrZ36MM8Yd66er9dDeFpHYclcTfVZHHfZ7
bVUHsp9Vuzdj24043qmDozLO2TfcHbD1RonVlblIAntp5FDBK9ngR646/TYWZIawTpKWrdypbM1g
Qr2LR09OHd5+J13unFVX4E2d0S3otg6uZ3N9i4tTMh0fNq/1tIwZ6cOBVAmTFqq3sv1jrToE2k1B
ZAypW032tcXmAhdKjuQm4vtjpvWOCWF/SGKDewWy0qH+xqsiZB3E5ES8dcnY5ZjMSXxZjXcf6M1V
bHfC+vXbxOyzCNKx5aRBwee26zuz1SQ2Oavafe8eFfF3yakeWuOkElgtsVJG7hZ8Irv1qMO2opz7
FOTcXYyzWYjz1WL71iodvgKvWf2O47t67fKIlAt5M3LK3Nr8J2qsEhK9S+DAazJZ+Xdy5E8XrRYo
EGGDfG/RWOAPJGV8sHt11S3FjvOnO+Lh5aSpaxZB/4ERKw+inwR/jZd/wkWsABak+uKrL1IIJPOY
O9M1XVt4jaDQnPV7KV5ei/4Pofm2oyzj2SKdfG0BvfRfHz/eOP3ylU7tr82lSS0MIcxwd7cWF0T+
JNK2+LUtl9C7h9Op/9BSi8vJpcWF/BUiaWU2bzhAc7DPa7l+4nXHyRSnFdBPWptr/hwc3fR8640p
0hqhj+wEWcdS2SG4GuccKkxT6QK14/nWA2qgu9ueLvwW2EF629xn1Lr+4e36PyxtTw1PMRZ0mpmY
vOh0sYiLUYw/s2FtRc5lhraRcerFaphHW6YfDKzJxWXXdlc78Fqsy4kb7LAgb9FmBP2Hf/JanO9k
K4TperffSoUhqDcvavG9zgro5I/1HEDpF0zm6g1xbF87yLUZwC7lHPhhvSXK6Vf0zXo+Ds1z+mY9
X67Mc/pWf04GsnpFP+Tt2vZbuA4L9RRWzMzq19lwMaTmnTSwRj+zFm5ZdvHXvjxTxWf1MIg/1aOf
uSahg/xgjIsQQdjRiKcdjUC40UjPjJkQTrpMTvwqO3ud/wHmbI7Hd28AAA==
EASYTDV_HELPER
    local rc=$?
    rm -f "$HELPER.gz"
    return "$rc"
}

run_logged install
# If the log helper ever dies, carry on (and upload) instead of dying on a write.
trap '' PIPE
trap 'rc=$?; [ "$rc" -eq 0 ] || failure_shutdown; exit "$rc"' EXIT
write_helper || fail 4 "could not write $HELPER"
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

# --- 1 download: both inputs in one call --------------------------------------
t0="$(now_us)"
say "downloading inputs from $SOURCE/"
rm -f "$RUN_DIR/train.py" "$REQ"
s3_get "$SOURCE/train.py" "$RUN_DIR/train.py" "$SOURCE/requirements.txt" "$REQ"
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
if grep -qEv '^[[:space:]]*(#.*)?$' "$REQ"; then
    "$PY" "$HELPER" reqs "$REQ" "$NORM" >/dev/null || fail 5 "could not read requirements.txt"
else
    : >"$NORM" # only blank lines and comments: nothing to install (no helper start)
fi
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
cache_unpack() { # cache_unpack <archive name> <dir>: the archive on stdin
    # Quiet: on a miss it reads nothing and fails; cache_corrupt says the rest.
    case "$1" in
        *.zst) zstd -dcq 2>/dev/null | tar -x -C "$2" 2>/dev/null ;;
        *) tar -xz -C "$2" 2>/dev/null ;;
    esac
}
cache_fetch() { # cache_fetch <archive name> <dir>: 0 unpacked, 4 missing, 1 unusable
    # Streamed from S3 into the unpacking: no copy of the archive on the disk.
    # Archives over SMALL_BYTES, and any helper failure, through the AWS CLI.
    local url="$CACHE_URL/$1" st
    if helper_ok; then
        python3 "$HELPER" cat --max-bytes "$SMALL_BYTES" "$url" 2>/dev/null | cache_unpack "$1" "$2"
        st=("${PIPESTATUS[@]}")
        [ "${st[0]}" = 4 ] && return 4
        [ "${st[0]}" = 5 ] && return 1 # the unpacking gave up: not worth a second download
        if [ "${st[0]}" = 0 ]; then
            [ "${st[1]}" = 0 ] && return 0
            return 1
        fi
        rm -rf "$2" && mkdir -p "$2"
    fi
    aws s3 cp --only-show-errors "$url" - 2>/dev/null | cache_unpack "$1" "$2"
    st=("${PIPESTATUS[@]}")
    [ "${st[0]}" = 0 ] || return 4 # (the AWS CLI tells no missing object apart)
    [ "${st[1]}" = 0 ] || return 1
    return 0
}
cache_restore() { # 0 when a cache was restored into $UV_CACHE_DIR or $WHEELHOUSE
    # One GET on a hit: the archive carries its own description.
    local archive="" name names="$KEY.tar.zst $KEY.tar.gz" created restore="$CACHE_DIR/restore" rc
    command -v zstd >/dev/null 2>&1 || names="$KEY.tar.gz"
    for name in $names; do
        rm -rf "$restore"
        mkdir -p "$restore"
        cache_fetch "$name" "$restore"
        rc=$?
        if [ "$rc" = 0 ]; then
            archive="$name"
            break
        elif [ "$rc" != 4 ]; then
            cache_corrupt "$name could not be unpacked"
            return 1
        fi
    done
    if [ -z "$archive" ]; then
        rm -rf "$restore"
        say "cache miss $KEY"
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
    if s3_put "$TMPDIR/$archive" "$CACHE_URL/$archive" \
        && "$PY" "$HELPER" meta sized "$CACHE_DIR/easytdv-cache.json" "$size" "$meta" \
        && s3_put "$meta" "$CACHE_URL/$KEY.json"; then
        say "cache saved $KEY $size"
    else
        say "cache not saved (could not upload it to $CACHE_URL/)"
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
        declare -p INSTALLER UV KEY WHEELHOUSE PY RUN_DIR ENV_PY CACHE_DIR NORM PY_VERSION IMAGE_ID CACHE_URL \
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

if [ ! -s "$NORM" ]; then
    say "no requirements"
    phase_line cache 0
    phase_line install 0
else
    KEY="$("$PY" "$HELPER" key "$NORM" "$PY_VERSION" "$(uname -m)" "$IMAGE_ID")" \
        || fail 5 "could not compute the environment's cache key"
    t0="$(now_us)"
    restored=0
    cache_restore && restored=1
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
    [ "$hit" = 0 ] && save_later
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
