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
H4sIAAAAAAACA709a3faSJbf+RW16slpKRECP5LpISEznpieeDtxcoLTOz2YITIURm0h0ZKwQ2j2
t+99VEmlB47TZ87mgwGpHrfu+966VbEsS/rp5uL0ZxFEaeZHUykWMlzJpMcPwtBLF+IuCTKZiiAT
WSz+NDgZ/gI9Jq/fvR10wuCqI+z3m2wRR+LI++GJK9JsBk9FHIUbx2u1jHHk8krOUpEtglTMg1CK
W5lc+VmwFDaMn6WdTC5XoY9zTRdyeoNNpZjGq43zXGSJH0QwSmudyuJFGcw4kzBjso4E/sNPH1ot
l340gwGkhCWkCF+8zjrwIZPkOS+OxgNAAAp/uZIz7HUVRHLWEupfGF8L23ohV/F0IZbpS/Ei/l3C
30x+zl5aAlAmQujgCJhLpItgpdA1PAIQYTnr6CZtJfK3FAeL4mTph0EqAT54tg4SuZRRprBi3y38
jFfoAx7EjdyIhZ8uZOq08Dv+w7cyug2SOMKeRcvWUmY+tuB1dUQafMGPRPozxAa1m8l0mgSrLACi
2f89fHfutNa3vM65zGCBOPwqiAABAl7cLaQMxTyJl+L95v3Z96nAPuLk/Rmtdh2t/OkNNIT1reIk
g/X5S9nvA3VTnCGeC1qRD0OuRLutWinKAY6vZUZzz+K7KIwBzjiSiLj46lc5zYQtPwMuj3riKri+
BjxnCz+CYZb+5/bVBpjFFaGcE7IR7JP/GYpXb86c1mrNo65X+ZiEXiIKvp0FSf7WF/M4nOHg+NYV
P1DbVBDYyBgFFPwihtWJZ8fibfB3cScTWTBKHRYX1h8AVnkuYt4lcsXKTzKgaQt5BPhyFd/ICOQv
kS5wCHJAEq+vF+WR5nEiUmCeUGEn7QkJNBWf/Lv0U2uKLwCtMC7ArcRylcTXib9EOiD/A5KF3fWO
EMgDkTouEdEncVn6N7hooMQXGbWgA4LqiQ/Aoyigwk8kMNQ18sVdkC3EEL772Rqe/qyIfSxskl1o
4V/7SOPWVZzF0ziRwDfUN8G1VwQeBHyayBmwcuCHKYqfZIarMLrbkmFqvMrVVhKj5Jy9PR3eHsKS
wuCGhXp4+lP6PTD83F+HICYLVCIty7JAMS2JDVGyQF/lP5f+VH+PU/0t3eRfgSogSkF0nT8A7mi1
vhNn9BMxgyQUoKZmwv4SrJBfXFhRNF0nCSzBm68RY8C2nuc5PYKSla6iHIyVSmAvP2SVRMpFqTEm
FlFcTT+NkTDLIER9ArPMUlCBLViwmCxT2+kRYyYSpowAW5mNQ3r4x3bEY3HQ7XYd3Z5UxgRYyJ7D
RDM/81X3LNn0cgYHXgZU49viGSk10QeMeTRIMUCpCT6BVvgxinpjeic/T+UqE++GgySJk2LIlZ+C
rvxODIdvAS/xCrWywnwPFJ1coUq+Rjq0WtMQGw9B66LpoiGAxB8LcSP17aN+/SxnbVKJrJJ74gUo
w+zli2ftWXAdoFaayc8vPWgPaMSBTrglSaj0QV2BJgF+m69B0pAWEZJKibZm+udk/XhiPwWmxYGu
k/gOwC2GS2Q77wY8E6HFAAaNruXME8MMxEKk6+Q2uCWRBBImG5Dhllb/rMJhJv4FKhfEd7oAIwTm
VC0ZZvEBJxFOkcWOR4xPlEB6T4IoyCYTO5Xh3MX2LlqGzGUQ0ZIDDE5BEsVxv6Zx1MofYmeP+tI3
HoC+8kL75sCgs+0DNb5THoImm6x80Cp9nrnynpCvhkbNCYoCWnZdcQ6qvdz2zk9QRfXFj6BMincl
NiZWRh0WA35sXiqxSLkJjenf0mi4cA8JZs/LfB3MuY0Hlsy2aHWWI/p9Aw8NoxargrFRNGmMkcXP
rLHT3KVYuzGnemgVfZRc2UqwXPGzH66l+v6T3KhvF5sVP3TKEKL4FayCLE9ssocbKs/S9RUYnanU
QzQin6SQVAYSHZeBT2zNT7WV1DSEodguknVBZqQGjv2ihOLHJjFQsWgZufNRFMEMTQ1371vZjtRB
XzlbHWOqVgFpmukWbW7/uKldFs9iaDeyA1OMHDL8AVrOBDWEXQIOR3PGJgJoNnJFTbj/C8bFti69
H5dRiRN7rC1su2jlOOa45JdAw69T4W6xgWWUkFRjgas1OAqgFlaJBM2M2FmFoJHSIzvXJc4+gc3V
jpVcWSS5aTKtSxmhDXU6eonRNXRH56O2gpzmyRSwKm9s6lOikNPYQZk07IfWyeZJmtumC2yqHA6I
WPzDp89sspLeQn4G+wPrtZu7ot/fF3Nry6jabQm+XvfZbIdYsBo71fBdAuZokrBbZ1vvP15Ybk4N
mIuNN6GMAXQReMA1hjsdkBW0cWCrklRm/XU2b/9gOd40jFO5B34lw8MjkmGklsyFUPm2YBw2AkMB
7ffaPrqunzdoF2+i+A48ptTfOHtXNA0DFBwLPGFYjZUe4d/pCv+222iQ2+kivmtLhIBatOHPHNr1
Op0tL37X2cLqd9Z47yQzjCP6hobzwG+2YWoXGAuCij4jjoPMvtHsdPDz+cc3b+gVgGC+en/2frB/
WSB1OKnHQjaNZxLluLufsoX0UT+eD4QJu9oWUwvFhnUeEC7NwJOwnXsHhOg7lZp+tiRzvU4Rf1u5
ey4A5z2xhVl3IIvknZckXxsj1d/VytxhTmjVQQeYbFlSPfgc/BnUQDh2r2qB8YVh/fcY3Nw1KCkr
/c9wgQ9dYc8pPZLNbnvgZq/DGc2hIkZtPiCK2ubaasdIGLWPut3eeHcZAXYl0cx2nCaVWXZQyi4B
6uDWHtNvqvFc31NodL/GrShQw+l6IiwvW5K03Fn7PCHygGbr5creKjenZ2hIFDr2XXpl45m7J73S
OnbAPmWsgDOg2PIe+CpvHuYokD/TZK909PAGHOc38XUePQzRFKUcagEzSh9DdiA2ZnlSYV9eRq64
vEzgU6BCA14AxQAPOAPEdpRntF5Qvijzr3W+CDpZOkegM03ITIV//vbkn0DlZ0+fHj3b67DT4mv+
WCIrvjnoIXSzkObYA6jhX1kV5xuBxdikL7a7qmc/RR8+j3q9N/DArnS/gpc3KTRLpAfrWUGAaINV
BuxEv18mv6MYFKuYSzlTKwCUlOJM9gnmol+CijxcanplAWc+oR55+0UcorDAK1NZwCgeEgD53UZI
LIfsDdiYK04MXCaYEPEFAsl+h/CnSZymFGWmFT8FgNUTreejXvtgjNDAsEXeh/iibyLEo2Ft6OFU
3UBq7a1iU+0C2GhvyekSL9VIwAhlRuaeyk9Lah6SGt9Eh4nLEeBxTISCZk9oTeV2rAEZ3TSVQTky
8BMWhoKCBu20j2sSD9eYE6/aEj8Im1qHVYnGOg3fVL3bXt1XN2EfkWo0gFcvDcbj5fWq7i09bvJv
C0RhkpjdMcqx7MQWBtyBgtK6vlVxD2Ht3q9xQHEmdH1Ck8AHLBI0Afqo9ABcU4Xzkr7OBbHisDe5
d1rkVR6mnoMpNZqH63RRsfz3adEiMmx9J9rtNmZp7VI6EjzFpqRg+6v/WoO37y9+mQxfn4BXXHeT
kXtKXvLw7cmbN6gjj8WLF+Kwi9KtEsQqdQsANCRjhb1ch1mAJghVaIIp6NApkkjKwxkQFgB4xSAN
+le7QKjSMcE3k30AskBYul7JxHa8vBs2bMh64BhsRNG36+fj4k+dmlsnIWlwcNldygoC9UB1Bgng
vE9OhJpYWQFoj8hTHj5LATqS1CH3vPPsKW4aEKumMrkNpuCbc1pLu+LKE68a0PIs3tU6CGcThBPW
XXn3Hvu/BtMYwrvtznG82nr66tNp7Z+iCQ9FP4WsYDlLla3LMKfeR5/IxUUu4lnf+scAox3d+fDr
iFuAQQBORuto/bMNrm5bTg/bGmdtmgNcG/rcIZrpG6uu/T3aWRa2VcoWeluHB8+6XYvN73fiIs9d
Q4iVgSIF/9oH9bQAqvizGWi3VO2agcSB/ojiGhFp8yIMPU18cK5UJp1zRiAQk8Grw8nbwcXJ6cnF
yeT0bHjy9zeDU/QBQdrC+A75F/NYVgaukmUo+lI00MXA8D52Qr99FqT+FTq29t55HWUgrvxUZYbu
h3c4+PDz2avBZHB++v7d2fkFmAvAhLXIshWEdAfP/uIdPj321KeluOo3GLnCVGp7w8Z5vYSjIatD
rgZzkeIc/nA1P/TVJwNNmvp+OUV/kzzrpFeVpISzB04lTCv00qtidyR3US/KeyPfpxi6g+Igxqvt
jsDrYn8kkXNgoYXKeM2DWyBaEK1x6/VKgj2i/huwBSsA/Z60sanuHuwuMpT0lSdIVabIFV2vW8yE
VK9Mcp89xLyfHh45DkdEhrBLM6F3bu6BvCwD0hYQujl77Goj4Ox6UFq4McTLe/LC/obqPZgyLxVI
5f5fybUDsUtyYbou8KgQk5NXrwbD4eSnwS+Ts1OLQ5JSg+Hg1YfBhdHOchpTejb0GjUMCe5v/qY+
Fr81ZxsOz96dTy7e/TQ4txyH6VxZ6hRixWjmJ/ekjFmv9pWGtzq0dZh1/FXQYSVcKHlMaVXIgTuE
tb6oqtqoqzqBv+yAOl6D37RpG5uRHUuZEUf58+izOaPuuDFvMoun5k5Bav+B+UDvILB62qp7phlP
I4w4+XrJO3sA04o4GwAZWQNs7KMbgzSxHv3SfrRsP5pdPHrde/S292j4L6s5LcG9T6aYnvpJbs5m
2J2eDSWAmuVv1HMm9QXRAMk7h7VntgK1FqDnvlWRB4zi3/yeACPQ7R6ADPrRRsz9IEQncin9KBUW
GDgDSZgG8APei2vIHs2hOfvT1UIJEv8G1Yje4jpCrYVWSthbuXPKWdWazcNJyKs04GpKgrVaIB+n
g/OLs5M3QwDOUOV27rMk8hoQUuzX4q89NvDD4B8gTGzsmt6fDn48+fjmIm/XyqMmHLRueuhxfZ9X
vd7Lv5SmQZx2eAQgyUPlspxyfBhXtL5OB7VA9JhEgShFyzJFEOfpEZpru5T25iGc3MTa6XQBiwR3
YhGnmc65ABcBU81WENFlVAmSBDNycpRnBl4ONmyn2SZk9rT9NC9HAIFxnhPAQLhs7YdtHBvzZEDQ
oh+FhQwcFdSkZPzYYsRZiulx1V9gf3GXZyiXvq7huQCGm8okC+bBFDc4yZKTxUdcKDdohWl8rYV/
W8eZyiCpvViLFBI9twlHqT+HSKfzv4qzckTs8diUczb5+OHNZHi0n23NhgXT6tFrfKlfmA6bWwJW
E5bhzd25Fsdmc95xsvyl/yWOwEXHzJU3hXA8FxWP6zEoHWFNo7ZOR5T7WBpUy7NQ4/C0NXjn5Jem
wEnpkbflCXbelgHZWRp0RXAD1Fp/vVfh7RmIeiq1guUsTDUKPkvVIPjOi+Rd8V7nL7T36VaicHBP
dfitRAhCfTt3i3MJyV1k/LlBOzjhAVzloTLULpU9uDpK6OOWjVPybnXkBSE8iBZJRGPJESgAcOGT
DWZqwet8Lj4hGJ9AkzC1sXIIYiFU7xvx8cNZmxc6A1H+3PaXX1Cjgb3l7xCRZdChrUGm8gqQ6lxL
khdCFRsZlfqA4JPzirblZA3ISIIvZHQ98Umt4JOwKZxqTzG2IXFmFjcqqrI4BsBx3E+kS4Q26Otp
NqEaNOCujxevciH2yQoj/tAmu7l7RM6mmajSA83JMwA34NGSnIBHb9EFYDIwODOfN1+g36j3A2+D
KfAg+r3RMSGEqyLPaCX2rXaNHN6nvnHFLQKrFu8FmaQ8mTGct14hzu2thWwD8S9zj1WQAzcLEI78
YZku8LrMW7tcZxAejMCEJhypUXKXiy0TJkPpGzVnPQsIoEoum3vyuFOIviPQorj7gh4grz6fZKSl
QOXYKYbmNnNrG+16WwVGRNtChCYsyFK8AK2fq+b6QXl1TAoGJZ1CjMn5R6DXrqOVQGerJGnXAd10
rPd3LcW1E4SgBD3578ft129PXrU58Wa5Guk0SVUB2DkWqqqilJxTpSu8ac06qP6XtP4x6jzmX6eu
fWB1Tm6Tcz2ByCqtz8n5ihVDv6raeOlf127VXXjeOtmiS6GJVyEcJY1xP5bZmCvCyAhDi0JeWCoM
kdjt9ARAA1NlEEMWbDWvUchwH/tb1gBIeKTWjnOvcvZaJSi23z//3mSqnZGc7W9zhO0sg7mUcQDI
tA0BP4n2zG2dmLyKZ5ty1kxvOqkMZiJx6y+ZLnAX6MUrePjSHv37xfix86JDvyweBF2BfFsAAEz9
63r3t/y8GEE/aBoErRiyuNZOS+86idcr+8C5ZwOcqEMVuTY2cTUoDlJ3WUKLdjuL7e/XFxfvxZZ/
40YAALCztH/LSdwHwQBTEfbYw7CcwknVZRpaw5QcVsSAym9iaVG/S5UafTOZTsWnqDkn2WYlVWOA
T6b948LcvotyQ6QmfE41hwFVPNIGZ4rVplEkpxkZ76fdLv45EvYQ2Pw0voMImUb7hECRDaP6bN4f
xdJkCq0yrAXHJBl7xErNCZ8SUkQK2nOFWIRH+0CY58bYDXd/VnGUqjJHHFcmvGlH4ke7VHhaofB2
y7ldYuZ7cr73+sfwjExdqxyn5fFbnsB0tf98T5jB2eWYtsL0wJSFdEB5ZWE8bekSJj/DUumsqP8i
+hk5GyNHvTPTQsw0lMPF0KucTzET26+UdX1DBUxkfIHNgaVQ3eqXWC1o9Ur8RCnXqyDyk00nnmYS
7DNtEFq7Kmza5O91Grc7VWZkxMsUHziFx0iuzPWSk3dOfaMNOM9mYVL8ZpO2YrHCr4Zf/pVUcJ7+
xbFVXc9DMsGNqSsdTTduYDzr1nIkJq96qGOMwqlyPoie9w01LT3WYlLllGu1qtxAWylbyfEhCTP+
OW7If3LUzZPtr+9pKDZ1inC+UB6Yf8YC+Q7IMnmuOlN+ej5sXJ0R7nNlULGoOfBeGG5quWAw7iA1
ic2Es0gtWA0rw/e12jXor0XuiTgQL1hfVrKR5FWHUq7srnf4VDwWh48fq17KaBRIK9Q5MnS51E6X
Rk9IXZKCLvTyqToUQ0EQNkW1x7ty+ItqaRyPC4nyoEQfnQEVHPrJtUxU1bgfFfNg1JQtsOoDt4oz
zG9qfclZdqNAkLfMDKir2xiqthJst6elnQL7ilYpIbiAxCjrIhWuKzUrj7FGWtVXipdF997XC6vi
1MOjLbMgSW1dcAw/0CvKf/tXKX7aVHUKGkd+DtJsEt/wtk2rXkE14xoKi0hAdVOqEBU4uVrShkcm
cJw6+12pLRO1A3TAu9n1PXtVnXBV3/fIR8Kik9qbohaAuirHtqizqq6iKLotV0mRK2gqftuoP1LG
cQkSga/SljlA/tS7Bm5Kjc6j7niv+SgEZrXO1G6uyYBqW57c9Xq5gA4JqMS82yoTToVoum7YqHOj
lBsRJMDjGOC6h/7yaub3xLxMHi5nKdOBYdFWzsB2qeL9SZ+qfExi4IY5xtf5ZFUonbymncxY3i53
e79SzMszsIfoajiNYMdtomxR0KsooWuzwTRpsjNPwoNSqowqatVmbMfSdgZajZ72xr37E7mYoRc0
AK+gg0GkSqv2xBYG2eld4mKFbMdxdL1Fg5s2ByU2NpprbtbVH/YcHAvKUbjiLk5u0KL/UGjgeWTj
Sw4TsCxiQ41d8Uk1/lQcE3xO2heAXYdZiquOE1CGuWJVL/CwzfTGzWv9UcONwX4gYxAcjlvbQsV6
JaCVjNZLmSCDcUOjwgmhMbcQ92kdEoRmNbK3wn9PJVTej/FHuZRZTDVf3VpdGq58FGB8qzHaUmaJ
nXdARLHoC/pmZ2i9sj4ujfE/KVzgJcR3igKugTpHnYTA1hlvAdH4xYIy5lalJO5rRzFkiY3UOvLY
2N8orwuPuILRUPhfJWisjPrhLb7H8mCJKVqsUOqnm1QVZ2sRmy5n5B7Aom8L/sOa+JFx3lWcj2sS
8uPZm4EY0VPP8/gnfBm7Qh0lxvNhLe219EQXK0PyA7eoG47ohCzGbMYp23PQNQ1na11xLLT7F+Dh
wzRFP8I+7h7TJsYxBIW8RXgqIwggeyDluMcWpXdYnkXxoO6E0GN6t5Xv0VKAiIcBuBoPzBHIcl78
orcFbV87kUXmx8U4Ezmb9ep8zslbiKWQT3qlMjCAGx5mWNsEznrh+xReiXF6Bd1BoMmodzDGUGpk
GeSwDJWWd3apvTrXRV0Pxg4/HB2qk48rP6DYa8QNgrF6H6DLOa6d+OkykxNviLY4cMUhcLpxRAv1
dmCe49oXhHTJnLAn+jhX69gZDDJlHuEbVrjmy1Hx09EfKug3hGRuFXX0+WnvrZoZBUOWtYZmkj7W
gpA3L7HInJIt0LpLxUnAdch0ZguMb7iKiSJfkxetJowckz+qJqOlHhQJLaRRYSsoe0KkK+kFPNlI
jV192LjfJbN9oO0fD6UHz+UdvRtD3ks0U84PcUUX6FEQS7OUU91m6ra+hTx7SKOOOGzVxDs65KCm
rFBJTVtZEfjWFSWmzttX9djp2YeSLuPjTZ2esrN0YP9KhvEdtnzOaqtVnOpnxcX1nusVgnmuck7F
gVwIHJRKi7FCm/SZjWqFEltqn4S0MKkZrWByhRAGywA9TCo4/SZtQD0fognSZOoKu3waDjhX5ISv
0Z27YeGti6tDLQLNRoXlA2SzAzlxFX7QGUm9Oz+8sWE+p+z0YiSELdTGB/WouLfqiKMOl8g05rNg
/6rBN1vDLwqu+NgKzp8HINAklSva/yyPYOPCuG6xdEKUTjtCAMiEIYEiTDiV04vqVOETBEUJCtKW
XO1RRXOSO3KP5lSSiM2IIJpW9OBg7PwhxcjQaKhrQz1AQBU8JKCVc2xqOCWuNGhFiTHSco5hpJF/
BYg3DuLXXBlsuaNdT6wR3hIddix3vaaS6yaHR8kRo6BXVyfGjyM60BEoxdzV4cgiWE2u/ZUN0Mnk
1sfTUL5RuTHkylqxjrIgVG7A54yObDH2euKT7vpJVwrNQa1neSUk5pdZ2aSwzjusqsAqjIUkRyTI
yONmX11G+fl+dGZgDMzqHnQFeD1zmAS+snehh55LdIWGRwLCNcAa+l6s8qgP4PbIfdbtKl/poNte
xOsEr+jguwT8K9ya+lPX6x46RnCRW6ICJ+gkH0A7wo7oiGfw3TH9TTy+aKhqfYJbhnKaxUlaeoh+
Vti656B3vMLgBoalPHSukIIiCKeYJBAvCl+mdABDeUJktdvtSrqaxy18JNErn9MsJ0AQlpEazwtV
kUjbcsalMYxT0xiaH7b0ZT99fSLMpoEsPGU71mm9uyLPTuEDHidBRxbTqbYV086Of9cGIuE2o21J
/QR4H8L50pJxeEqWFVmNe094wDD6FA/lCQg86DtWGahvP8zBUk6Fi+apVBodcN50mhWPrO4/ylqc
9YqTOz/hjfQ1RMzzBO3EPXoWxwFzEM0mzGyq5zec8cuJkqL1AHrwQN7w7B8Xgw9vXVH8Pju/MH++
/vjeKVcNwPMCDFevRq0v5etGXLqdRMfreSFzEckObmVEORYzmsiJbs1oB9s4/6aK3wumK0DiGdEX
4W92+fBk0cVteEETVd6gZi9AoUOcyo2h7M1B9/iHp39+5pQ7qb0Ry0N4PCx1tYoGRoZX6SAAF1US
6J2nujC0mFI34vkODX+WQnSy1ZRnX8Zg97D0wHaKAmFksTDGQ3RN+VY6EAy0AZ8nyOwGe1EdGKIq
NavTVAHOOPfoLgwDiJzw+5IXCCFuIkmYqpJM5i55OkIVK4VcVc4K2DvlcGKoHujUpgw93BNLMUnJ
UkNC6ho9Bz8PzrEM9OQUdVBMKbF7eoMo7++NGkyTh9GLY8DyJku/hH+qdMCkI3kS2IiHtPVm14FX
ra8n9TmfceWSVzrduVcLqv0+SmQDqrEj3jlEJ2YbVeAZkj1Zr4C6e3QhpkDBPMumg+X16440GrFo
WCGSgADUxFe/1vP3eLy3dIASj04+DIami5mqQMJonCq4q4O59x4IbUruPSxYath0YPAhdqZ2BFuj
hE4DF+eAW/sSl/VcBporYl0Sb+ceT+BBHFDCPCKUxbrxxgHSKqk0Z1WSbCQMzWsJSqpj7y7iQWW7
oKxwTPf48AfQVYABLFWdgjPVVedkp8qxyy8YnE3M+wXNLRuMyYPV92nlAkLsiDEr11ugT5NKqqbo
0RVk2Aiin9CPbtSJZ4ivVUUt4HTNx8iBgGBDVhDdiVlCV3e56LumeOKaHqdgEmaSqyYV4qn6icek
8RCTcsb5dEqiIyluKLZa34pruhVL+kkYUPGHsQSIV2Is8KuVf+gipepGEJWFAdj9vCyHrwjpG9U5
5W0iVWWk9oRKlUdYu7S+shPr8vIy+etlZHEtYHH0U58TN2J1ffaXSnAp1KdGJqdQE2N0+9+/X6bO
d97jP6kJ6PLJavO8DAp/5yWapQPnQfUmjdL58mJUxXlMHxU94F2SE2ARG9kN4m26bhBTG1PAarDE
CqpeqSpLhZBtGd22+SbKg8uIu4E7fRlhT/pCnembSdrLCJ9YHjNp4fyoifPfBIBxvAjGKn4W1Y8I
tXJtSmusbCU2FUaXSwWNYEr+lppRjSb2PnlUCR6nwpcqy0NXcdT5s77HXOzxWgbB0UdrPl7uGHsU
GIeZT/M8YrEqJLGxKFzMhEWngeQquqqsyOjTuBxDuLCpIVwlgTDgfgj37V0RnmJpiHrzu8wqGkMH
pl0OTAnVVgn9aqP1ftS4+Z2nCT8HJebqTWqmuRHR/iHkqcKmtKqduMCSXKZtqbEFcFs9gr783ORT
aICDVlrwCrEOuyJ/9BbXB+/KskhvCBfwqiKY/E4jyOoZyKqPDJhTgyMOy+8RodQ9U/Vr5ddTQEtG
d9TUyuJrp+Oq9WbFULsGOhEf7BfZCpmKu3SQMOAAu3RRWQQeskt5WGTutBIwlLL8FbbExeKyxHfE
UzMx/PBKDM/+NRDvPl70ilsijdt/XYYeXylc0iWtX2TD6nKl9JDFKV5rvDER342YSmMzL344dvZN
ezT+f0Xsd1RO2mNNI6wXCjcvxQvFPC+t54LuAz7gkqvi5GDDfan/eQzmukOBgyE2IVWLxthVDzSz
j6suKXgSdEwMfIl/j7rtv/jt+Xj77Hh36UEseunZX9Ls9+svDroXalCHrxnI9G+z5EPTr9dwYrIo
BbT1SK0/dEFlJYOu89LGqc00mMmpn+zdZW/MMvM4VZTuNR3r28rOFnijPw8+4PlmcToYXkxwS+vs
/HTwTzzIJk4+vHrNsrf0ow2YsfVnfZ82oBPfukJdmMyZXb40WV+0rc8g4VVUMBEXSqkbt+nIUD5n
Z31bdXir5qzpbgt1SbeuQlRXJZIjZhhy6In+23bXWW1WAUzVga+U+dHOGHUsn8VTQzt7RGLPzR7w
WRTGHnWrhYZc8RmSV2Wcst53f4IzsrCw2hp/w0nTveeP17f62DHupYFDhV5JjR+pRunbWJAYwjh3
lLey57w1gxOqXTx4MrLwO265WePiwqS5Ndki3Xbe3SJUZ/6tnOnoaGKpp2HMQB/2uaYMtFC5lekf
K9XB0NYFkTAktorsO4PNGS48RsD3Vj4cM40nkpn9URIr3MuQ5Q71Nx4s5nUAkwPxdjlj52MSJ9HV
Bs5DoNcX99wL69fvnjErV7ljQ11qRqf8yjuzxSQmOYtKT+cB9ZP3yakaWuGkEFglsVx0aGd0fq+x
MHZfedpDCmLvL4atF8J+tTSzsUqWLkyq1kriYS+1dn4EygW8GT6TaGz+AzXWEYjeDeLAqTJZ/r8q
8H90sV5i9QkZ5AeLxhL/O42EjgGub9u52FH+tMMeXgqaumQR1HX0Rh5EPfH+Fax+xGv7EFgk1RdX
fOErmngefcOuomsDrwEUirP+KMXzS3T/IzTfV/g8XSzj2dcW0I3//PRprVb6K52aX+srNhoYgpnh
/m4NLgj/Bxr74temXEL3AU6n+m85GlxOKkTL+P+s4FZ684YCNAv3eQ3Xj73uIJpjbSv249b6UigL
D/o4rvFGV4JNsA/vBBmHmMghuJ2mFCrMY+6CasdxjQfQQHU3PV30W9AOwtvqPqPS9U+2u78Z2h4a
jnAs1Gl6YvCi4+UyyCYBXspubEWGPEPTyFgjbTRM5Z7p+31jcnbZld1VDrwS63ziCjsswVs0GUH9
NxFpKc63kjWG6Wq330iFYVCvX5Tie5UVUMkf4zkCpV4QmYs3wLE95SCXZkB2yefAH8ZboJx6Bd+M
56u1fg7fys/BEBav4Ae/3Zn+CdVbYd2EERuTmrVqrgRXQoKmVWgmFsK7N238P2AcXa1n9NAIHqnR
x7ZO3GAeMMDrsZCAkwlNO5kggSYTNTPOhGGjTWTDX3lnp/V/cTVh7o1pAAA=
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
    [ "$hit" = 0 ] && save_later
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
