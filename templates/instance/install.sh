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
#              restored before the install (offline install), saved after it
# 5 install    `uv pip install -r requirements.txt` (pip's format), pip as fallback
# Everything it prints is also in $EASYTDV_HOME/logs/install.log as
# "<epoch ms> <o|e> <text>" lines, shipped in chunks to outputs/_logs/install/.
#
# Lines the core may parse (stdout): "easytdv: phase <name> <seconds>" (and
# once "easytdv: phase boot <seconds>", the user data's own run time),
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
    local rc=1 url
    if helper_ok; then
        python3 "$HELPER" get --max-bytes "$SMALL_BYTES" "$@" && return 0
        rc=$?
        [ "$rc" = 4 ] && return 4 # missing or denied: the AWS CLI would not do better
    fi
    rc=0
    while [ "$#" -ge 2 ]; do
        url="$1"
        aws s3 cp --only-show-errors "$url" "$2" || rc=1
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
H4sIAAAAAAACA709a3faSJbf+RW16slpKRECP5LpISEznpieeDtxcoLTOz2YITIURm0h0ZKwQ2j2
t+99VEmlB47TZ87mgwHV69Z931u3FMuypJ9uLk5/FkGUZn40lWIhw5VMevwgDL10Ie6SIJOpCDKR
xeJPg5PhLzBi8vrd20EnDK46wn6/yRZxJI68H564Is1m8FTEUbhxvFbLmEcur+QsFdkiSMU8CKW4
lcmVnwVLYcP8WdrJ5HIV+rjWdCGnN9hVimm82jjPRZb4QQSztNapLBrKYMaZhBWTdSTwH3760Gu5
9KMZTCAlbCFF+OJ11oEPmSTPeXM0HwACUPjLlZzhqKsgkrOWUP/C+FrY1gu5iqcLsUxfihfx7xL+
ZvJz9tISgDIRwgBHwFoiXQQrha7hEYAI21lHN2krkb+lOFkUJ0s/DFIJ8MGzdZDIpYwyhRX7buFn
vEMf8CBu5EYs/HQhU6eF3/EftsroNkjiCEcWPVtLmfnYg/fVEWnwBT8S6c8QG9RvJtNpEqyyAIhm
//fw3bnTWt/yPucygw3i9KsgAgQIaLhbSBmKeRIvxfvN+7PvU4FjxMn7M9rtOlr50xvoCPtbxUkG
+/OXst8H6qa4QjwXtCMfplyJdlv1UpQDHF/LjNaexXdRGAOccSQRcfHVr3KaCVt+Blwe9cRVcH0N
eM4WfgTTLP3P7asNMIsrQjknZCPYJ/8zFK/enDmt1ZpnXa/yOQm9RBRsnQVJ3uqLeRzOcHJsdcUP
1DcVBDYyRgEFN8SwO/HsWLwN/i7uZCILRqnD4sL+A8Aqr0XMu0SuWPlJBjRtIY8AX67iGxmB/CXS
BQ5BDkji9fWiPNM8TkQKzBMq7KQ9IYGm4pN/l35qTbEB0ArzAtxKLFdJfJ34S6QD8j8gWdhd7wiB
PBCp4xIRfRKXpX+DmwZKfJFRCwYgqJ74ADyKAir8RAJDXSNf3AXZQgzhu5+t4enPitjHwibZhR7+
tY80bl3FWTyNEwl8Q2MT3HtF4EHAp4mcASsHfpii+ElmuAqjuy0ZpkZTrraSGCXn7O3p8PYQthQG
NyzUw9Of0u+B4ef+OgQxWaASaVmWBYppSWyIkgX6Kv+59Kf6e5zqb+km/wpUAVEKouv8AXBHq/Wd
OKOfiBkkoQA1NRP2l2CF/OLCjqLpOklgC958jRgDtvU8z+kRlKx0FeVgrlQCe/khqyRSLkqNMbGI
4mr5aYyEWQYh6hNYZZaCCmzBhsVkmdpOjxgzkbBkBNjKbJzSwz+2Ix6Lg2636+j+pDImwEL2HBaa
+ZmvhmfJppczOPAyoBpbi2ek1EQfMObRJMUEpS74BHrhxyjqjalNfp7KVSbeDQdJEifFlCs/BV35
nRgO3wJe4hVqZYX5Hig6uUKVfI10aLWmIXYegtZF00VTAIk/FuJG6ttH/fpZztqkElkl98QLUIbZ
yxfP2rPgOkCtNJOfX3rQH9CIE51wT5JQ6YO6Ak0C/DZfg6QhLSIklRJtzfTPyfrxwn4KTIsTXSfx
HYBbTJfIdj4MeCZCiwEMGl3LmSeGGYiFSNfJbXBLIgkkTDYgwy2t/lmFw0r8C1QuiO90AUYIzKna
MqziA04iXCKLHY8YnyiB9J4EUZBNJnYqw7mL/V20DJnLIKIlBxicgiSK435N46iVP8TBHo2lbzwB
feWN9s2JQWfbB2p+pzwFLTZZ+aBV+rxypZ2Qr6ZGzQmKAnp2XXEOqr3c985PUEX1xY+gTIq2EhsT
K6MOiwE/Nm+VWKTcheb0b2k23LiHBLPnZb4O5tzHA0tmW7Q7yxH9voGHhlmLXcHcKJo0x8jiZ9bY
aR5S7N1YUz20ijFKrmwlWK742Q/XUn3/SW7Ut4vNih86ZQhR/ApWQZYnNtnDDZVn6foKjM5U6ika
kU9SSCoDiY7bwCe25qfaTmoawlBsF8m6IDNSA+d+UULxY5MYqFi0jNz5KIpghqaGu/etbEfqoK+c
rY6xVKuANM10jzb3f9zUL4tnMfQb2YEpRg4Z/gAtZ4Iawi4Bh7M5YxMBtBq5oibc/wXzYl+X2sdl
VOLCHmsL2y56OY45L/kl0PHrVLhbbGAbJSTVWOBqDY4CqIVVIkEzI3ZWIWik9MjOdYmzT2BztWMl
VxZJbppM61JGaEOdjl5idA3D0fmo7SCneTIFrMobm8aUKOQ0DlAmDcehdbJ5kea+6QK7KocDIhb/
8Okzm6ykt5Cfwf7Afu3moej398Xc2jKqdluCr9d9NtshFqzGQTV8l4A5miTs1tnW+48XlptTA9Zi
400oYwBdBB5wjeFOB2QFbRzYqiSVWX+dzds/WI43DeNU7oFfyfDwiGQYqSVzIVS+LRiHjcBQQPu9
to+u6+cN2sWbKL4Djyn1N87eHU3DAAXHAk8YdmOlR/h3usK/7TYa5Ha6iO/aEiGgHm34M4d+vU5n
y5vfdbaw+5013rvIDOOIvqHhPPCbbVjaBcaCoKLPiOMgs290Ox38fP7xzRtqAhDMpvdn7wf7twVS
h4t6LGTTeCZRjrv7KVtIH43j9UCYcKhtMbVQbFjnAeHSDDwJ27l3Qoi+U6npZ0sy1+sU8beVu+cC
cN4TW1h1B7JI3nlJ8rUxUuNdrcwd5oRWHXSAyZYl1YPPwZ9BDYRz96oWGBsM67/H4OauQUlZ6X+G
C3zoCntO6ZFsdtsDN3sdzmgNFTFq8wFR1DbXVjtGwqh91O32xrvLCLAriWa24zSpzLKDUnYJUAe3
9ph+U43n+p5Co/s1bkWBGk7XE2F52ZKk5c7a5wmRBzRbL1f2Vrk5PUNDotCx79IrG8/cPemV9rED
9iljBZwBxZb3wFdpeZijQP5Mk73S0cMbcJzfxNd59DBEU5RyqAXMKH0M2YHYmOVJhX15Gbni8jKB
T4EKDXgBFAM84AwQ21Fe0XpB+aLMv9b5Ihhk6RyBzjQhMxX++duTfwKVnz19evRsr8NOm6/5Y4ms
+Oagh9DNQprjCKCGf2VVnG8EFmOTvtjuqp79FH34POr13sADuzL8ChpvUuiWSA/2s4IA0QarDNiJ
fr9MfkcxKHYxl3KmdgAoKcWZ7BPMRb8EFXm41PXKAs58QiPy/os4RGGBJlNZwCweEgD53UZILIfs
DdiYK04MXCaYEPEFAsl+h/CnSZymFGWmFT8FgNULreejXvtgjNDAtEXeh/iibyLEo2ltGOFU3UDq
7a1iU+0C2GhvyekSL9VMwAhlRuaRyk9Lah6Smt9Eh4nLEeBxTISCbk9oT+V+rAEZ3bSUQTky8BMW
hoKCBu20j2sSD/eYE6/aEz8Im1qHVYnGOg1bqt5tr+6rm7CPSDUawKtGg/F4e72qe0uPm/zbAlGY
JGZ3jHIsO7GFCXegoLSub1XcQ9i792scUJwJQ5/QIvABmwRNgD4qPQDXVOG8pK9zQaw47E3unRZ5
lYep52BKnebhOl1ULP99WrSIDFvfiXa7jVlau5SOBE+xKSnY/uq/1uDt+4tfJsPXJ+AV191k5J6S
lzx8e/LmDerIY/HihTjsonSrBLFK3QIADclYYS/XYRagCUIVmmAKOnSKJJLycAaEBQBeMUiD/tUu
EKp0g43S9UomtuPlvam9nuxYpyrRsU51Am6dhKSnwTF3KfcHNAIFGSSA2T65CmodpeuhP6JI+fHM
6+gu0oDcv85zpHg0QAyZyuQ2mIIHzskr7XArf7tqJsureFfrIJxNEE7YZqXtPY5/DQYwhLbtznG8
2n766tNp7V+iCQ/FOIWsYDlLlUXLMHPeR8/HxU0u4lnf+scAYxo9+PDriFuA2gd+RRto/bMNDm1b
Tg/bGmdtWgMcGPrcIZrpGyuo/SPaWRa2VWIWRluHB8+6XYuN7HfiIs9QQyCVgboEL9oHJbQAqviz
GeiwVJ2NgVyBlojiGhHpiCIMPU18cKFUvpwzQ8D2k8Grw8nbwcXJ6cnFyeT0bHjy9zeDU/T0QKbC
+A7ZFbNVVgYOkWWo85LP38Xw7z52Qu98FqT+Fbqv9t51HWUGrvxU5X/uh3c4+PDz2avBZHB++v7d
2fkFGAXAhLXIshUEbgfP/uIdPj321KeluOo3mLnCVOoQw8Z1vYRjHqtDDgVzkeIc/nA1P/TVJwNN
+vh+OUWvkvznpFeVpIRzBE4lGCu0z6viDCR3RC/KJyDfpxigg9ohxqudgUBzcQqSyDmw0ELltebB
LRAtiNZ4wHolwerQ+A1o/BWAfk9y2NRuD3YKGUr6ygukKh/kiq7XLVZCqlcWuc/qYXZPT48chzMi
Q9illdAHN086XpYBaQsI0Jw91rMRcHYwKPnbGMjlI3ljf0PFHkyZlwqk8vivZNSB2CW5MB0UeFSI
ycmrV4PhcPLT4JfJ2anFgUepw3Dw6sPgwuhnOY2JOxtGjRqmBCc3b6nPxa3masPh2bvzycW7nwbn
luMwnStbnUJEGM385J7EMOvVvtLwVocOCLOOvwo6rIQLJY+Jqwo58BywNhZVVRt1VSfwlx1Qx2vw
jjZt48ixYykz4iivHT0zZ9QdN2ZHZvHUPA9I7T+wHugdBFYvW3XCNONphBEnXy/5/A5gWhFnAyAj
a4CdfXRWkCbWo1/aj5btR7OLR697j972Hg3/ZTUnH3j0yRSTUD/JzdkMh9OzoQRQs7xFPWdSXxAN
kLxz2HtmK1BrYXjuQRXZvij+ze8JMALd7gHIoB9txNwPQnQVl9KPUmGBgTOQhMG+H/CJW0OOaA7d
2WuulkOQ+DeoRvQJ1xFqLbRSwt7KnVPOndZsHi5CvqMBV1Oqq9UC+TgdnF+cnbwZAnCGKrdznyWR
14CQ4lQWf+2xgR8G/wBhYmPX1H46+PHk45uLvF8rj41w0rrpocf101zVvJd/KRmDOO3wDECSh8pl
ObH4MK5ofZ0OaoPoMYkCUYqWZYogztMjNNd2KbnNUzi5ibXT6QI2Ce7EIk4znVkBLgKmmq0gbsuo
3iMJZuTkKM8MvBzs2E6zTcjsaftpXnQAAuM8J4CBcNnaD9s4N2bDgKDFOAr+GDgqm0nJ+LHFiLMU
k+BqvMDx4i7PQy59XalzAQw3lUkWzIMpHmOSJSeLj7hQbtAKk/VaC/+2jjOVJ1InrhYpJHpuE45S
fy77Vud/FWfliNjjsSnnbPLxw5vJ8Gg/25odC6bVs9f4UjeYDptbAlYTluHN3bkWh2JzPley/KX/
JY7ARcf8lDeFoDsXFY+rLijpYE2jtk46lMdYGlTLs1Dj8LI1eOfkl6bASemRt+UFdt6WAdlZGnRF
cAPU2nh9IuHtmYhGKrWCRStMNSMWVTNimxfJu6JdZym09+lWYm1wT3WQrUQIAno7d4tzCcldZPy5
QTs44Qlc5aEy1C4VN7g6SujjwYxT8m515AWBOogWSURjYREoAHDhkw3mY8HrfC4+IRifQJMwtbE+
CGIhVO8b8fHDWZs3OgNR/tz2l19Qo4G95e8QkWUwoK1BpiIKkOpcS5IXQnUZGRX0gOCT84q25WQN
yEiCL2R0PfFJ7eCTsCmcak8xtiFxZhY36qayOAbAcd5PpEuENujraTahSjPgro8Xr3Ih9skKI/7Q
Jru5e0TOppmO0hPNyTMAN+DRkpyAR2/RBWAyMDgzn49YYNyo9wMfdinwIPq90TEhhKsiz1sl9q12
jRw+jb5xxS0CqzbvBZmkbJgxnbdeIc7trYVsA/Evc49VkAOPBBCO/GGZLtBc5q1drjMID0ZgQguO
1Cy5y8WWCVOe9I26s54FBFC9ls0jed4pRN8RaFE8Y0EPkHefLzLSUqAy6RRDc5+5tY12va0CI6LD
H0ITll0pXoDez1V3/aC8OyYFg5JOIcbkLCPQa9fRSqCzVZK064BuOtanuJbi2glCUIKe/Pfj9uu3
J6/anF6zXI10WqSqAOwcC1VVUUrBqQIVPppmHVT/S1r/GHUe869T1z6wOye3ybmeQGSV9ufkfMWK
oV9Vbbz1r2u36lk7H5Bs0aXQxKsQjlLDeOrKbMx1X2SEoUchLywVhkjsdnoBoIGpMoghC7aa1yhk
uI/9LWsAJDxSa8cZVjl7rRIU2++ff28y1c5Iwfa3OcJ2lsFcyjgAZNqGgJ9EJ+O2TmtexbNNOWum
j5boDJoOe1LpJ9MFnvW8eAUPX9qjf78YP3ZedOiXxZOgK5An/wHA1L+uD3/Lz4sZ9IOmSdCKIYtr
7bT0rpN4vbIPnHuOuYk6VHdrYxdXg+IgdZcltGi3szjkfn1x8V5s+Tem+wGAnaX9W6dwNXVJhdYT
JbcT96GylFgG1O9SVUXfTHxToSjqv0m2WUnVGVaRaf+4MJrvotycqAWfU31gQNWJdBiZYmVoFMlp
Rib4abeLf46EPQRmPY3vIM6l2T4hUGSJqJaazzKxjJgCpAzrtjHVxX6tUlbCp7QSIZTORyGi4Nk+
EP64Mw7Dk5pVHKWqJBHnlQkfsJEQ0YkS3iwofNZyhpZY8p7M7b1eLjwjg9UqR1t5FJanIV3tBd8T
LHCOOKZjKz0x5RIdUEFZGE9butzIz7CsOStqtYh+RubFyDTvzOQOMw1lYjGAKmdFzPT0K2Uj31Cx
EZlQYFZgKVSauhEr+6xeiZ8ocXoVRH6y6cTTTIKVpcM8a1eFTRvuva7fdqdKgoyol7x8p/D7yCG5
XnIKzqkfigHn2SR9mt9s0jnsfuNXw7v+SkI3T+Li3KoG5yH53MYElI6JG48hnnVrmQ6TVz3UFEaR
UzmrQ8/7hrLF83LURVJlhmt1pdxB2xpbyfEhCTP+OW7IYnLszIvtr8VpKAx1iqC8UB6YRcZi9g7I
MvmfOt99ej5s3J0RtHMVT7GpOfBeGG5qGV0w0SA1ic2Es0gtWA07w/ZanRmM1yL3RByIF6wvKzlF
8o1DKVd21zt8Kh6Lw8eP1Sil+gukFeocGbpcFqfLmCekLklBF3r5VF1goVAGu6La47M1/EV1L47H
RT95aKGvuYAKDv3kWiaqwtuPinUw9skWWKGBx7oZZim1vuRcuVHMxwdfBtTVwwhVBwkW2NPSTuF5
RauUEFxAYpRgkQrXVZWVx1jPrGohxctieO/rRVBx6uE1lFmQpLYuDoYf6Nvkv/2rFD9tqhAFjSM/
B2k2iW/48KVVr3aacb2DRSSgGidVNAqcXC0/w+sNOE+d/a7UwYc6xzngk+f6+bqqJLiqn17kM2GB
SK2lOLenoco9LWqiqrsoCmTLFU3k0JmK3zZqhZRxXIJEYFPaMifIn3rXwE2pMXjUHe81H4XArNaZ
OpM1GVAdoZPTXT/a1449lYN3W2XCqUBL1/gaNWmUOCOCBHh1Ahzw0F9ezfyemJfJw6UnZTowLNrK
GdguVac/6VNFjkkMPPbGKDlfrAqlk9efkxnL++XO61cKb3kF9hBdDacRsrhNlC2KbxUldB01mCZN
duZJeFBKeFH1qzpS7VjazkCv0dPeuHd/Ohbz7IIm4B10MBRUydGe2MIkO33WW+yQ7TjOrg9a8Ojl
oMTGRnfNzbpSw56DY0GZBlfcxckNWvQfCg08j2xsZGcfixs21NkVn1TnT8WVvuekfQHYdZiluOs4
AWWYK1bVgBdjpjduXpePGm4M9gMZg+Bw3NpBKNYWAa1ktF7KBBmMOxrVSAiNeRC4T+uQIDSrkb3V
+HuqlvJxjD/KiMxiqs/q1mrIcOejAKNUjdGWMkvsvAMiik1f0Dc7Q+uV9XFrjP9J4QIvIUpTFHAN
1Dnq1gL2zvggh+YvNpQxtyolcV8/igRLbKT2kUe4/kZ5XXgdFYyGwv8qQWNl1PpusR1LeSUmWrGa
qJ9uUlVIrUVsupyRewCbvi34D+vXR8bdVHE+rknIj2dvBmJETz3P45/wZewKde0X73K1tNfSE12s
78gvx6JuOKLbrBizGTdiz0HXNNyDdcWx0O5fgBcF0xT9CEDkTEYBznaQl5yow7hcBAqrb9zkQHcL
9jzqHYwxVBlZxnYtQ2Xkg13qr+440dCDscMPR4fqFuDKDyi2GXGHYKzaA3TpxrXbL11mIsK9aIsD
VxwCJxnXlVAvBuadpn1OfpfUNXt6j3O1iYPB4FF+Dr5htWe+HRWfHP2h4naDCedWUVOe33zeqpWR
8WTjoe0xAgzQkr8sseSakhLQv+tQiHCMgcExBAYM50GRs0EEF4qUUguE95LQ4BU96uzqW7P9Ltm0
A20ceCo9eS4MaPoNYSghXHkGRNIuILPAtOYHp3qS0m19C2734FXV6m/Vwjuq1ldLVlCslq3sCBzP
ioSri+NVIT89+1ASdL6n0+kpI0Q3z69kGN9hz+cs063iejpLNRcurlcI5rlKyBQ3S8GrVvIeY6kx
CbuNhoayPuoogFQUyXRNmsNgGaD7RZWT3yTKNPIhYpwmU1fY5WtdDgzJCV+jOw/DClIXd4cqALqN
CrMAyGbvauIq/KClTr07P7yxYT2n7BFimIA9VG6fRlR8P3VXT8cSZDfyVXB8Ve7M3vCLIg++f4Hr
5945dEnlio74yjPYuDEuzStddaRrexAdMWFIoAgTTuUanroe9wRBUYKCtCU/dFRRe2Sr71F7ShKx
GxFE04oeHIydP6TVGBoNdW2qBwiogocEtHIhS02nxJUmrSgxRlrOMYw0cj4A8caN8pqdx547OtjD
Mtgt0WHHctdrqh1u8gaUHDEKenV1Yvw4opsJwAtE6q721RfBanLtr2yATia3Pl7r8Y3ihCEXj4p1
lAUhQRNh+hvvHjH2euKTHvpJF8PMQa1nebEfJl9Z2aSwzzssHMBCg4Ukqx9k5I6yIyuj/KI6HsfC
HJjyPOiKVPhzWAS+smugp57LO3g6PBIQywDW0DFhlUdjALdH7rNulxOj8Ky9iNcJvmuCL8X7V3j6
8qeu1z10DM87t0QFTtCDPIB+hB3REc/gu2M6Y3gPz1DV+iqyDOU0i5O09BDPRMLWPTeW4xV6/jAt
JWlzhRQUESo57IF4UTgipZsEyo2hZG67Xcnl8ryFgyN65QuH5ewAwjJS83mhqoNoW864NIdx/Rfj
1sOWfmtNX19tsmkiC6+LjnXO665IQpNvjfci0EdFR8K2YjpA8e/aQCQ8SbMtqZ8A70OsW9oyTk+Z
pCLkv/eqAkyjr6NQEE3gwdixSs98+60ElnKqzTOvV9LsgPOma5l493L/nczi0lKc3PkJnxWvIZyc
J2gn7tGzOA+Yg2g2YWZTI7/hslpOlBStB9CDJ/KGZ/+4GHx464ri99n5hfnz9cf3TvlgHJ4XYLh6
N2p/Kb83w6XXbOhgNq/VLcK8wa2MKAFhhgI50a0ZHdIaF7lUfXfBdAVIvCL6IvzNLt8CLIa4DQ20
UKUFNXsBCt1GVG4MpTYOusc/PP3zM6c8SB0cWB7C42E1p1V0MNKfSgcBuKiSQO881bWPxZK6E693
aPizFL+SraYk9DIGu4en67ZT1MAii4Ux3gZrSkbSzVagDfg8QWY32IvqxBASqVWdpiJnxrlHL3Uw
gMgJvy+yRwjxhEXCUpVMKw/JY3VVjxNy4TQrYO+Uw4mheqDzfjL08MAoxQweSw0JqWuMHPw8OMdK
x5NT1EEx5YvuGQ2ivH80ajBNHkYvzgHbmyz9Ev7pMB8zcuRJYCee0tYnQQdetYSc1Od8xsU5Xuma
4l4tqA7DKMsLqMaB+PIcuvrZqALPkOzJegXU3aMLMT8I5lk23ZCuv7dHoxHrYhUiCQhATXz1az25
jfdUSzcB8Q7gw2BoesNQFUiYjeP8uzqYe19ooE3JvbfeSh2bbr49xM7U7hJrlNC11uJCa2tfVq+e
iEBzRaxL4u3c4wk8iANKmEeEslg3Xp0nrZJKc1UlyUY2zbxfX1Ide4/YDiq59LLCMd3jwx9AVwEG
sBpzCs5UV134nCrHLn9T3mxivijPPM/AmDxYfZ9W3qSHAzFm5WIE9GlSSaUGPXqXFnaC6Cf0oxt1
dRfia1U0Cjhd831oICDYkBVEd2KW0DuoXPRdU7w6TI9TMAkzyYWBCvFU4MNz0nyISTnjZDNlmJEU
NxRbrW/FNb3eSfpJGFBlhLEFiFdirGGr1UboOpzqKQlVPgHY/bz6hd910TeKYMpnKKqQRh2YlIpr
sDxnfWUn1uXlZfLXy8jicrfiMqO+8GzE6voSK1WZUqhPnUxOoS7G7Pa/f79Mne+8x39SC9BbFKvd
80of/J1XIZZuTgfVV0KULkoXsyrOY/qo6AFfijgBFrGR3SDepvfmYWpjClgNllgk1CsVHqkQsi2j
2za/UvHgMuJh4E5fRjiSvtBg+maS9jLCJ5bHTFo4P2rh/DcBYNyggbmKn0WBH0KtXJvSHivnbE21
v+VqOCOYkr+lZlSjib1PHlWCx6nwpcry0Dsl6vxZP4AtDkAtg+DoozXfk3aMBD7GYebTPI9Y7ApJ
bGwKNzNh0WkguYquKjsyxjRuxxAu7GoIV0kgDLgfwn17d4QXNRqi3vylXBWNoQPTLgemhGqrhH51
Cnk/atz85Z0JPwcl5uoTXKa5EdH+IeSpqp+0qp24hpBcpm2pswVwWz2Cvvzc5FPogJNWevAOsdS4
In/UivuDtrIsUgvhApoqgsltGkFWz0BWfWbAnJoccVhuR4TS8EwVd5Wbp4CWjF62Uqv8rl0AqxZj
FVPtGuhEfLBfZCtkKl4Kg4QBB9ilN25F4CG7lIdF5k4rAUMpy19hS9wsbkt8Rzw1E8MPr8Tw7F8D
8e7jRa943aHxGluXoccmhUt62+gX2bC7XCk9ZHOK1xpf/YdtI6bS2MyLH46dfcsejf9fEfsd1Vr2
WNMI64XCzUvxQjHPS+u5oBfbHnA9UnE5ruHFn/95DOa6Q4GDITYhVYvG2FUPNLOPqy4peBJ0Ewp8
iX+Puu2/+O35ePvseHfpQSx66dlf0uz36y8OuhdqUodv0mf6t1kPoenXa7gUWNTJ2Xqm1h9602Il
g67z0sbFxDSYyamf7D2Cbswy8zxVlO41HevbyskWeKM/Dz7gFV5xOhheTPBI6+z8dPBPvKslTj68
es2yt/SjDZix9Wf9YmhAJ7a6Qr35lzO7/PZf/cZofc0G36kEC3EVkXp1NN2KydfsrG+rDm/VnDW9
vkG9bVqX6Kl3/pEjZhhyGIn+23bXWW1WASzVga+U+dHOGA0sXzdTUzt7RGLPyyvgs6gaPepWq/C4
HDIkr8q4SLzvFQHOyMKqY2v8DZcp916xXd/qm7V4lgYOFXolNX6kAp5vY0FiCONqTd7LnvPRDC6o
TvHgycjC73jkZo2LN//MrckW6bbz7hahutZu5UxHt+9KIw1jBvqwzwVXoIXKvUz/WKkOhrYuiIQh
sVVk3xlsznBhjT2/gPHhmGm8dMvsj5JY4V6GLHeov/HuLO8DmByIt8sZO5+TOIlu7zsPgV6/m+Ze
WL/+ehWzrJMHNhRtZnSRrXwyWyxikrMog3QeUFx4n5yqqRVOCoFVEssVeXZGV9Qaq0b31W49pFr0
/krRepXoV+sWG0tI6Z1A1UJCvM+k9s6PQLmAN8PX7ozDf6DGOgLRu0EcOFUmy/97AP4fG9ZLrDAi
g/xg0Vji/wuR0E239W07FzvKn3bYw0tBU5csgnqvupEHUU+8fwWrH/H9cwgskuqLK77wW4h4Hf2q
WEXXBl4DKBRn/VGK52+D/Y/QfF9V8HSxjGdf20A3/vPTp7VC4q8Mam7Wb5FoYAhmhvuHNbgg/D9B
7Itfm3IJ3Qc4ner/l2hwOamKLOP/fIF76cMbCtAsPOc1XD/2uoNojoWfOI576/ceWXgLxnGNFl3G
NcExfBJk3PAhh+B2mlKoMI95CKodxzUeQAc13PR00W9BOwit1XNGpeufbHd/M7Q9dBzhXKjT9MLg
RcfLZZBNAny7uHEUGfIKTTNjAbHRMZV7lu/3jcXZZVd2VznwSqzzhSvssARv0WQE9f8dpKU430rW
GKar034jFYZBvW4oxfcqK6CSP8ZzBEo1EJmLFuDYnnKQSysgu+Rr4A+jFSinmuCb8Xy11s/hW/k5
GMKiCX5w6870T6jeCusmjNiY1KxVcyW4jBE0rUIzsRC+RNLG/8wkLwU0RmgEj9TsY1snbjAPGOAb
oJCAkwktO5kggSYTtTKuhGGjTWTDX/lgp/V/Jlnqh1ZoAAA=
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
cache_us=0

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
        if s3_get "$CACHE_URL/$name" "$TMPDIR/$name" >/dev/null 2>&1; then
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
    if s3_put "$TMPDIR/$archive" "$CACHE_URL/$archive" \
        && "$PY" "$HELPER" meta sized "$CACHE_DIR/easytdv-cache.json" "$size" "$meta" \
        && s3_put "$meta" "$CACHE_URL/$KEY.json"; then
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
