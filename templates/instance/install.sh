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

# --- S3: small objects through the helper (one Python process, no AWS CLI
# start), big ones and any helper failure through the AWS CLI -----------------
SMALL_BYTES="${EASYTDV_S3_SMALL_BYTES:-$((64 << 20))}" # tests set a small one
HELPER_OK="${EASYTDV_HELPER_OK:-}" # run_logged checked it
helper_ok() {
    if [ -z "$HELPER_OK" ]; then
        HELPER_OK=0
        command -v python3 >/dev/null 2>&1 && [ -f "$HELPER" ] && python3 "$HELPER" check && HELPER_OK=1
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
    export EASYTDV_LOG_WRAPPED=1 EASYTDV_HELPER_OK=1
    exec python3 "$HELPER" run "${args[@]}" -- bash "$0"
}
# <<< easytdv common <<<

# The helper (templates/instance/easytdv_helper.py, gzip + base64, written by
# templates/instance/embed_helper.py): the combined log and its chunked upload,
# S3 for small objects, the cache key and description, uv's download.
write_helper() {
    base64 -d >"$HELPER.gz" <<'EASYTDV_HELPER' && gzip -dc "$HELPER.gz" >"$HELPER.tmp" && mv -f "$HELPER.tmp" "$HELPER"
H4sIAAAAAAACA709a3faSJbf+RW16slpKRECP5LpISE7npieeDtxcoLTOz2YITIURm0h0ZKwQ2j2
t+99VEmlB47TO2fzwYDqdeu+761bimVZ0k83F6c/iyBKMz+aSrGQ4UomPX4Qhl66EHdJkMlUBJnI
YvGnwcnwFxgxef3u7aATBlcdYb/fZIs4EkfeD09ckWYzeCriKNw4XqtlzCOXV3KWimwRpGIehFLc
yuTKz4KlsGH+LO1kcrkKfVxrupDTG+wqxTRebZznIkv8IIJZWutUFg1lMONMworJOhL4Dz996LVc
+tEMJpAStpAifPE668CHTJLnvDmaDwABKPzlSs5w1FUQyVlLqH9hfC1s64VcxdOFWKYvxYv4dwl/
M/k5e2kJQJkIYYAjYC2RLoKVQtfwCECE7ayjm7SVyN9SnCyKk6UfBqkE+ODZOkjkUkaZwop9t/Az
3qEPeBA3ciMWfrqQqdPC7/gPW2V0GyRxhCOLnq2lzHzswfvqiDT4gh+J9GeIDeo3k+k0CVZZAESz
/2v47txprW95n3OZwQZx+lUQAQIENNwtpAzFPImX4v3m/dn3qcAx4uT9Ge12Ha386Q10hP2t4iSD
/flL2e8DdVNcIZ4L2pEPU65Eu616KcoBjq9lRmvP4rsojAHOOJKIuPjqVznNhC0/Ay6PeuIquL4G
PGcLP4Jplv7n9tUGmMUVoZwTshHsk/8eildvzpzWas2zrlf5nIReIgq2zoIkb/XFPA5nODm2uuIH
6psKAhsZo4CCG2LYnXh2LN4GfxN3MpEFo9RhcWH/AWCV1yLmXSJXrPwkA5q2kEeAL1fxjYxA/hLp
AocgByTx+npRnmkeJyIF5gkVdtKekEBT8cm/Sz+1ptgAaIV5AW4llqskvk78JdIB+R+QLOyud4RA
HojUcYmIPonL0r/BTQMlvsioBQMQVE98AB5FARV+IoGhrpEv7oJsIYbw3c/W8PRnRexjYZPsQg//
2kcat67iLJ7GiQS+obEJ7r0i8CDg00TOgJUDP0xR/CQzXIXR3ZYMU6MpV1tJjJJz9vZ0eHsIWwqD
Gxbq4elP6ffA8HN/HYKYLFCJtCzLAsW0JDZEyQJ9lf9c+lP9/dc0jvT3ONXfgNbqWypDoECc5E24
PT/Mf62vAPVTmRbtm/wrEBckMoiu8wfAZPr7l2CFXNaibU7jaLpOEti8N18jrkETc7cLmuN9HIeD
z3K6BkharRZsVUyWqe30iCUTCUMiwFNm4woe/rEd8VgcdLtdR/cnZTEB5rHnM1fM/MxXw7Nk08tZ
G7gYkIytxTNSZ6IP+PFokmKCUhd8Ar3wYxT1xtQmP0/lKhPvhoMkiZNiypWfgpb8TgyHb4GX4xXq
Y4WsHqg4uUJlfI2oa7WmIXYegr5Fo0VTAHE/FoJGittHzfpZztqkDFkZ98QLUIPZyxfP2rPgOkB9
NJOfX3rQH2wITnTCPUk2pQ+KCnQIcNp8DTKGIhNJ1AEs1Jrdn5Pd44X9FNgVJ7pO4jsAt5guke18
GCjXCG0FsGZ0LWeeGGYgEMA8yW1wS8IIJEw2IL0trfhZecNK/AuULQjudAHmBwyp2jKs4gNOIlwi
ix2PWJ4ogfSeBFGQTSY2cPDcxf4u2oTMZRDRhgMMTkES7OdRN/rGfekr76lvzgGK2T5QUznlKWje
ycoH1dHnRSrthGc1NapH0AbQs+uKc9Df5b53foJ6qC9+BI1RtJU4lrgWFVUMqLB5V8QN5S40p39L
s6HQe0gbe15m4WDOfTwwV7ZFu7Mc0e8beGiYtdgVzI1SSHOMLH5mjZ3mIcXejTXVQ6sYo0TIVjLk
ip/9cC3V95/kRn272Kz4oVOGECWt4ArkbuIIo1cNmyRBJO5IRYQLn9iaQWqg1aTbUEoXybqgG6IX
535RwtljE7uoFDR/3/koRmA8poaT9q18RKLcVy5Sx1iqVUCaZrpHm/s/buqXxbMY+o3swJQLh8x1
gPYuQem2S8DhbM7YRACtRg6kCfd/wLzY16X2cRmVuLDHkm7bRS/HMeclbwI6fp0Kd4sNbKOEpBoL
XK3BvIOcrxIJWhWxswpBm6RHdq4cnH0SmOsRK7mySBTTZFoXG0Ib6mP07aJrGI4uQ20HOc2TKWBV
3tg0pkQhp3GAMkc4Di2LzYs0900X2FW5CRBn+IdPn9lk4byF/Ay2A/ZrNw9Fb70v5taWUbXbEny9
7rPZDrFgNQ6q4bsEzNEkYWfMtt5/vLDcnBqwFhteQhkD6CLwgGsMUjogK2ifwM4kqcz662ze/sFy
vGkYp3IP/EqGh0ckw0gtmQuh8khB228EOvDaW7V9dDg/b9Cm3UTxHbjnqb9x9u5oGgYoOBb4r7Ab
Kz3Cv9MV/m230Zi200V815YIAfVow5859Ot1Olve/K6zhd3vrPHeRWbo/fcNj8wDb9eGpV1gLAgF
+ow4Dg37RrfTwc/nH9+8oSYAwWx6f/Z+sH9bIHW4qMdCNo1nEuW4u5+yhfTROF4PhAmH2hZTC8WG
dR4QLs3AC7CdeyeEmDmVmn62JPu7ThF/W7l7LgDnPbGFVXcgi+RsliRfWxc13tXK3GFOaNVBB5hs
WVI9+Bx8EdRAOHevalKxwTDneyxobutLykr/M9zXQ1fYc0pqZLPbHvjO63BGa6g4T5sPiH22ubba
MRJG7aNutzfeXUaAXUk0sx2nSWWWPY6yjUcd3Npjy001nut7Cmju17gVBWp4UU+E5WVLkpY7a59r
Qy7NbL1c2Vvlt/QMDYlCx85Ir2w8c3+jV9rHDtinjBVwBhRb3gNfpeVhjgI5KE32qtWa/O3D4OQn
QGoiPQgXVxCa2GBTLpPL6PfL5HckYh4fvAHX+E18nccHQzRYKQfOwLLSx3AcWAIzOKmwLy8jV1zC
TJeRQLUHHAPqAx5wdoetLcNlvaBcUOZf61wQDLJ0/K+zSMhyhQf+9uQfAPazp0+Pnu11yQlFFf8b
VBN6XsgG2AwE8q+sioONkGGo0RfbXdV7n6Kfnsed3ht4AOojh2Au5UytDtspRYFs9eeiX1qEnFLq
emUB7z2hEXn/RRyiOECTqQ5gFg+RhxxtI7UshywKWJErDtgvE0xU+AIJyZ6F8KdJnKYUA6YVTwSA
1Qut56Ne+2CM0MC0RT6GaNoXzC8ezWhDZ6fq41FHbxWbOhUgRmNKHpV4qbYP9CtzKY9UTlhSc3/U
/CYmTDSOAIVj4mPo9oS2U+7H6o0xTUsZRCPrPWEeLohnkE07sCbdcI853ao98YMQqRVUlV6ssLCl
6rr26o64CfuI9J4BvGo0eI6316v6rvS4yXktEIV5W/a1KPmxE1uYcAfaRyvyVsX3g717v8YBRYUw
9AktAh+wSRBgdEDpAfidCuclZZyLVMUbb/LdtPCqBEk9OVLqNA/X6aJi1u9TkUUc1/pOtNttTJza
pQwhuIFNebr2V/+1Bm/fX/wyGb4+AZe37gMj95Rc4OHbkzdvULUdixcvxGEXBVvlbFU2FQBoyI8K
e7kOswDtC2q+BLPCYaG9tfsyICwA8IpBGtSm9m9QE5vqc72Sie14eW9qr6cm1qlKS6xTnRlbJyFp
XPC6XcrRAY1ANwYJYLZPfoBaR+XkoD+iSDnpzOvoC9KA3HnO05aYrSeGTGVyG0zBveaskvamlTNd
tYHlVbyrdRDOJggnbLPS9h7Hvwa7FULbduc4Xm0/ffXptPYv0YSHYpxCVrCcpco2ZZjM7qNb4+Im
F/Gsb/19gAGLHnz4dcQtQOMDv6I1s/7RBm+1LaeHbY2zNq0B3gl97hDN9I0V1P4R7SwL2yk41qDX
YLR1ePCs27XYXH4nLvKkMURJGahLcJF9UEILoIo/m4EOS9VxFcgVaIkorhGRTg3C0NPEB/9IpbA5
jwNsPxm8Opy8HVycnJ5cnExOz4Ynf3szOEU3DmQqjO+QXTG3ZGXg7ViGOi859F2M7e5jJ3S9Z0Hq
X6Fvau9d11Fm4MpPVXLnfniHgw8/n70aTAbnp+/fnZ1fgFEATFiLLFtBVHbw7C/e4dNjT31aiqt+
g5krTKXOFWxc10s4oLE65EswFynO4Q9X80NffTLQpI/vl1N0Gck5TnpVSUo4AeBUIq1C+7wqjiVy
//GifCjxfYrRN6gdYrzasQQ0FwcTiZwDCy1U0moe3ALRgmiNZ55XEqwOjd+Axl8B6PdkbevJ2Wb3
rtSJoaSvvECqkj2u6HrdYiWkemWR+6wepu709MhxOCMyhF1aCV1n8wjiZRmQtoDoy9ljPRsBZweD
UrWNUVo+kjf2V1TswZR5qUAqjy/WBbqWRMD0ReBRIREnr14NhsPJT4NfJmenFocGpQ7DwasPgwuj
n+U0JuBsGDVqmBJc2bylPhe3mqsNh2fvzicX734anFuOwyTNgWclO4XILpr5SWt/rMkqtK+UudWh
47ms46+CDuvbQp9jAqqCeTyFq41FrdRGtdQJ/GUHNO8aHKFN2zjw61jKYjjKQUcnzBl1x41Zjlk8
NRP1qf0H1gMVg8DqZav+luYxjTBi2usln6EBTCtiYgBkZA2ws49+CdLEevRL+9Gy/Wh28eh179Hb
3qPhP63mJAKPPpliMuknuTmb4XB6NpQAapa3qOdM6guiAZJ3DnvPbAVqLZzOnaUiaxfFv/k9Afq+
2z0AcfOjjZj7QYhe4VL6USossGUGkjBo9wM+9WrI9cyhOzvI1WIEkvQGLYju3zpCBYUGSdhbuXPK
OdCaecNFyE004GpKWbVaIB+ng/OLs5M3QwDO0Np27p4k8hoQUpyM4q895u7D4O8gTGzXmtpPBz+e
fHxzkfdr5WEQTlq3MvS4fqKqmvfyLyVVEKcdngFI8lC5LCcIH8YVra/TQW0QnSNRIErRskwRxHl6
hJbZLiWpeQont6Z2Ol3AJsFzWMRppnMfwEXAVLMVhGgZVVskwYz8GeWEgUODHdtptgmZPW0/zY/8
QWCc5wQwEC5b+2Eb58asFhC0GEdxHgNHRSsp2Tk2DnGWYjJbjRc4Xtzl+cSlr+tkLoDhpjLJgnkw
xfNFMtpk3BEXyuNZYdJda+Hf1nEmWQWro1CLFBI9twlHqT+XfavzP4qzckTscc6UHzb5+OHNZHi0
n23NjgXT6tlrfKkbTN/MLQGrCcvw5p5bi6OuOZ8PWf7S/xJH4I1jps6bQnydi4rH1SqUX7CmUVvn
F8pjLA2q5VmocXjZGrxzckFT4KT0yNvyAjtvy4DsLA26IrgBam28Plnw9kxEI5VawZIRppoRdqoZ
sc2L5F3RrhMS2tF0K2E1eKI6nlYiBLG7nXvAuYTk3jD+3KAdnPAErnJGGWqXCgxcHRD08YDFKTmy
OsiCmBxEiySisawHFAB468kGM6bgYD4XnxCMT6BJmNpYnQNhD6r3jfj44azNG52BKH9u+8svqNHA
3vJ3CL4yGNDWIFMhA0h1riXJC6HaCIy8SPDJT0XbcrIGZCTBFzK6nvikdvBJ2BQ5tacYxpA4M4sb
VUtZHAPgOO8n0iVCG/T1NJtQnRdw18eLV7kQ+2SFEX9ok93cPSK/0sw86Ynm5BmAG/BoSU7Ao7fo
AjAZGJyZz0clMG7U+4EPrRR4EOje6PAPIlORp6gS+1a7Rg6fKt+44haBVZv3gkxS4suYzluvEOf2
1kK2gVCXuccqyIGpfYQjf1imCzSXeWuX6wzCgxGD0IIjNUvucrFlwuwmfaPurGcBAaAKMeNMI3ne
KQTaEWhRPCtBD5B3ny8y0lKg0t8ULnOfubWNdr2tAiOiQxxCE5Y+KV6A3s9Vd/2gvDsmBYOSTiGc
5IQi0GvX0Uqgs1WStOuAbjrWp7GW4toJQlCCnvz34/brtyev2pxJs1yNdFqkqgDsHAtVVVHKtqnK
ET5iZh1U/0ta/xh1HvOvU9c+sDsnt8m5nkBklfbn5HzFiqFfVW289a9rt+qZOZ9qbNGl0MSrEI6y
wHh6ymzMtVdkhKFHIS8sFYZI7HZ6AaCBqTKIIQu2mtcoZLiP/S1rACQ8UmvHyVQ5e61yEdvvn39v
MtXOyLb2tznCdpbBXMo4AGTahoCfRCfcts5gXsWzjdLTdHhM51yp9JPpAo+5XryChy/t0b9ejB87
Lzr0y+JRaPvzxD5AlPrX9eFv+Xkxg37QNAmaLeRprY6W3nUSr1f2gXPP+TSRg8pcbezialAcJOey
hAftZxan068vLt6LLf/GVD4AsLO0Q+sUvqWuhdCKoeRn4j5UBhLrd/pdKofom0ltVyiFN8k2K6k6
wyoy7R8XVvJdlNsPteBzKsoLqCSQzgfBN4SZIjnNyOY+7Xbxz5Gwh8Cdp/EdBLY02ycEikwPlS7z
8SJW7VJElGGZNKax2JFV2kn4lDIihNKRJYQQPNsHwh93xmF4CrOKo1TVAeK8MuFzM5IaOi3CQv7C
SS1nX4kH78nK3uvWwjOyUK1yeJWHXXmK0dVu7z3RAed/YzqS0hNTntABnZOF8bSl64T8DKuIs6LI
iuhnpFqMLPLOzOYw01CWFSOmchrETD2/UkbxDVUJkc0EZgWWQi2pG7HGzuqV+ImSoldB5CebTjzN
JJhVOqizdlXYtKXe6+ttd6qWxwhzya13CkePPJDrJafXnPqBF3CeTdKn+c0mJcP+Nn413OmvJGvz
BC3OrYpnHpKrbcw46SC48YjhWbeW2jB51UNNYVQnldM49LxvaFcsFUBdJFXWt1bhyR20cbGVHB+S
MOOf44YMJQfLvNj+IpqGEk2niMIL5YEZ4jVEtxDxp+Rw6lz26fmwcXdGlM7lN8Wm5sB7YbipZWvB
JoPUJDYTziK1YDXsDNtrBWIwXovcE3EgXrC+rCQRyRkOpVzZXe/wqXgsDh8/VqOU6i+QVqhzZOhy
PZsuKJ6QuiQFXejlU3VfhGIX7Ipqj8/N8BcVrDgeV+vksYS+VQIqOPSTa5mosmo/KtbBYCdbYB0F
HtlmmJbU+pLz4EYVHh9qGVBXDxpUASNYYE9LO8XjFa1SQnABiVE7RSpcl0NWHmNlsSpiFC+L4b2v
Vy/FqYe3PmZBktq6qhd+oDOT//avUvy0qbQTNI78HKTZJL7hg5VWvUxpxrUMFpGAipNUtSdwcrVu
DO8U4Dx19rtShxrqjOaAT5XrZ+eqSuCqfjKRzwQT3NRaijN5Gqr80aKYqbqLorK1XIpEHpyp+G2j
fEcZxyVIBDalLXOC/Kl3DdyUGoNH3fFe81EIzGqdqfNWkwHV8Th52fVje+3JUx13t1UmnIqsdHGu
UUxGmTIiSID3FcDjDv3l1czviXmZPFxWUqYDw6KtnIHtUln5kz5V25jEwCNtDIvzxapQOnnhOJmx
vF/uvH6lYpZXYA/R1XAaMYrbRNmialZRQhdAg2nSZGeehAelDBeVrarj0o6l7Qz0Gj3tjXv3518x
sS5oAt5BB2M/lQ3tiS1MstPnuMUO2Y7j7PpkBc9aDkpsbHTP4xF/o0wmXt0DiVfbWiWoaYwKyy22
YwGlxLQYlnn0002qylc1fqbLGel20Le3hfrGquGRcY9PnI9r2/vx7M1AjOip53n8E76MXaGuSOLt
l5Y2OT3RxYP3/CIhEvaIbv6hw23cHjwHRmm4M+iKY6FtN4xYBmmKRgCIBdFggLMd5LUA6ugkNwyF
yjbq59FWwp5HvYMx+pkjy9iuZdA7H+xSf3VVhIYejB1+ODpU96ZWfkCO6Yg7BGPVHqA9HtfuHHS5
IJxwL9riwBWHzti89YFMHST3XfpQfNIlWWMz/TjneRwM2oqyKfANK/Dy7Sjn8ugPlRQbTDi3ikre
/JboVq2MjCcbj9iOEWCAlpwdiYWuFFFC/65D/t0xenXH4NUxnAetQh3WL9fZuK27OLlBt/YHgngF
zQXQ6DqmVEkImgObwLKubIopiWZOSerwmhSNcPX1xH6XtNmBVgs8n4YslyRU+oYklailbALxQxco
UZBJM5NTTZp3W99CmD1EUeXVW7Xwjgqs1ZIV+qhlKzsCl6OiHtQN3aqGOD37UNISfLWi0xNYN7Xh
K75XEqJu7PmcFUKruAfMKoHL0dYrBPNcheLFRT7wp5SyiLF2lDSFjUSleF9lfUm/kUKoqYIwWAZo
eKke7pv0AI18iA5Ik6kr7PJNHAeG5ISv0Z2HYV2gi7tD/QHdRuM8jgZks12duAo/wIJ4rdMPb2xY
zyn7AuggYg+VxqURFauvrldpL5JyR/kqOL4qtGZv+EU+J5fM4/q5XwZdUrmi05zyDDZujAuuSrfT
6KYV+MVMGBIowoRTuTmlbjQ9QVCUoCBtyQMZVXQm5tvvvSjHkojdiCCaVvTgYOz8IZXI0Gioa1M9
QEAVPCSglTs0ajolrv8nTdigARnhTs5ujPEJneYF18bt35qHgT13dACElZFbIuKOhbbXVE7a5Ico
IWT89eq6yPhxRHXqwEjEJ11DTeGdIUNHxasMdDc0UGYpl6WgcKsptgkgRM4NcKm0WZlvykC125UE
FM9bGHbRK19vKoc0CMtIzeeF6rS2bTnj0hzGZUN0tg9b+s0WfX1FwqaJLLycNtaB+l2ROUPCUaE2
+mZoQG0rpqyvf9eGaArz/bYl9RPAPDjopS3j9BT+FnHKvbXTMI2ujyfPn8CDsWMVU357mTTzGFUQ
mZe5aHbAedMlMLzptf8GWHGBIk7u/IRPtNZLYMIEVdw9KgLnAU0WzSb84gA18huuxuRESVHxAT14
Im949veLwYe3rih+n51fmD9ff3zvlI/v4HkBhqt3o/aX8g17ly7ku6rMMC8eLKoOB7cQKWHUZLrA
OdGtGR0lGZdKVMFpwXQFSLwimlH+ZpfvHBVD3IYGWqjSgnqlAIXuPikLTPHYQff4h6d/fuaUB6ls
p+UhPB7WnFlFByNnAyFicksHl+jXdb3uU12hVSypO/F6Tx2nKMND/gljvHvSlB6hS3KAeLDFEMHp
aZqKJRlVHl3lNqbP6VVQirW6nWEOLOvj2pjNlcs4qmR1eAhHsXrOlEx1/v4L75Qd2KF6oHMMMvQw
OZ1itoCZnWTLNUYOfh6cYxnVySmqjphi03tGgwTuH42K51CNZsThHLC9CVqhiv9C0T+ZH+zEU9o6
63zgVUtRSevNZ3zy75VuOu1VXirxThklQDUOxLdj0M2vRs11hpRN1itwqPaoMMxFBFHlDqTKNdRf
zKHRiEV3CpEEBKAmvvq1nkjDa2qlG0V4l+hhMDS9QqQKJMzGYeldHcy9t561Bbj39kypY9MNmoeY
h9qFQ40SuhlX3Ilr7ctb1uNmtDLEuiS4zj0G/EEcUMI8IpTFuvF+LemLVJqrKkkmP7z2foCy6tib
zj+o5O3KCsf0qQ5/EG3EAJZ6TcEH6qqLY1PlUeUvwZpNzHdgmblTjAKD1fdp5SVZOBCjJD74RFck
lXSs2aO3fWEn8LdDP7pRt/8golMVaYDTNd+QBAKC6l9BPCFmCb1kxsVXIKV4+5Aep6DJZ5KrjhTi
qXqA56T5EJMSXy2GxwoJvj4qwKsA6M2vb8U1vb9F+kkY0CmssQVwcmMskKmcKxjJTaqjADj7+dE6
34DvGyfs5QStOqVX2djSyT2e/a+v7MS6vLxM/vMysrh4prgFpS9JGuGgvv1GNWsUTVInkzWoizG7
/a/fL1PnO+/xn9QC9Ea0ave8jAB/5zVNpSuXQfWieOmGZTGrYjUmiPLT8QVnE+AJG/kLQjp6BxZG
z1PAarDECoReqapBBRptGd22+fVoB5cRDwO39zLCkfSFBtM3k5aXET6xPObKwklRC+e/CQCjHh/m
Kn4W5UIItXJBSnusJPGbKgnLtTVG2CJ/S83oQxN7nwCqHIJT4UuVSKCb5nX+rJ/uFKcrlkFw9KWa
L1g6RoIZ4yXzaZ6qKnaFJDY2hZuZsOg0kFxFQZUdGWMat2MIF3Y1hKskEAbcD+G+vTvCsm9zSzpC
7HKESLi0SvhVZxj3793N37SX8HNQS64+/2GiGqHlH8KOqhlIq+qHK5DICdqWOlsAt9Uj6MvPTUaE
DjhppQfvECsTKwJGrbg/aCsLG7UQLqCpInncphFk9Qxk1WcGzKnJEYfldkQoDc9UaUi5eQpoyegd
C7VC0dp9kWopRzHVroFOxAf7ZbJCpuJdEEgYcGldetFOBD6vS7k85N60EgKUMsUVtsTN4rbEd8RT
MzH88EoMz/45EO8+XvSKN5QZ75x0GXpsUrikVwN+kQ27y7XOQzaneK3xFV7YNmIqjc3c6uHY2bfs
0fj/FbHfUaVWj1WJsF4o3LwULxTzvLSeC3oL5QFXMxR3aRre1ffvx2CuOxQ4GOsSUrVojF31QDP7
uOpkgqtAFyfAWfjXqNv+i9+ej7fPjneXHkSXl579Jc1+v/7ioP+gJnX4jm2mf5unqZp+vYY7REWV
ja1nav2hN6ZVsrA6PWncY0qDmZz6yd4z0MZkI89TRele27C+rZyOgH/58+AD3vgTp4PhxQSPRc7O
Twf/wKsd4uTDq9cse0s/2oCdWn/Wb3EFdGKrK9RrOrnKnV/VqV/vqqvy8SUpsBDXIKj3vFIRfb5m
Z327p5SwdJFbvQpWF/SoV3uRZ2VYZhiJDtl211ltVgFM3YGvlHLR3hUNLN9GUVM7e0RgzzV2+Cxq
zI661ZodLp4KyU0y7hnuuyzsjCysUbTG33DXau8NvPWtvniH5y/gIaGbUeM/Ou7/NpYjBjAq7/Ne
9pwz8rigOvmBJyMLv+MxjTUu3gEytyZbpNvOu1uE6tarlTMZXc4pjTSMF+i/PpdngNYp9zIdXqUq
GNq64BGGxFaRfWewNcOFFbn8nrWHY6bxTh6zO0pehXsZstxD/sardbwPYHIg3i5n7HxO4iS63Os8
BHr9lop7Yf36ixbMIjAe2FDildE9l/JpXrGISc6iaMp5QCnSfXKqplY4KQRWSSzX79gZ3WBprDHb
V1/2kNqy++vK6jVlX61yaiw4o7eDVMuO8LqD2js/AuUC3gvfyjEOjIEa6whE7wZx4FSZLH93N79O
fb3EkhYywA8WjSW+tD2hizDr23YudpQB7bBHl4KmNpIY6uXF3j+D1Y/4Ui4EDMnyxRVf+N0jPKd+
+6OiYQNfwYqKi/4odfMXPP5b6LuvXnC6WMazr22gG//56dNaieFXBjU36wvlDcRnwt8/rMG94Fey
my5GxX/sPsB/VO91b/AeqSIp45eecy99IEKxloVnp4YXxw50EM3xlao4jnvrl5tYWA7vuEaLLgma
4Bg+XTFK/cnW305T8vrnMQ9BjeK4xgPooIabTiu6JGjioLV6dqfU+JPt7q+GIoeOI5wL1ZVeGBzi
eLkMskmAL/w1jvdCXqFpZqwkNDqmcs/y/b6xOHvfyqQqX1xJbL5whfpLcPxMuqv/LiEthexWssaI
W52BG2krjM91QylUVwG+StQYzxEo1UBkLlqAQXvK1y2tgOySr4E/jFagnGqCb8bz1Vo/h2/l52Dj
iib4wa070/Wg8hu8UWCEuaRBrZqXwCVxoEQVmomF8E1xNv4nAnlZmTFCI3ikZh/bOgeDObsAX/OC
BJxMaNnJBAk0maiVcSWMAG0iG/7KBzut/wWIsQrezmMAAA==
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
