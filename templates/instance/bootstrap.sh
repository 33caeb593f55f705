#!/bin/bash
# easyTDV instance bootstrap (EC2 user data). The launcher Lambda replaces
# __MAX_RUNTIME_MINUTES__ before launching.
#
# 1. Create the easyTDV base directory.
# 2. Schedule the safety shutdown (the instance terminates on shutdown) and
#    record its time (epoch seconds) in $EASYTDV_HOME/deadline.
# 3. Avoid the SSM agent's long back-off: once the instance role's
#    credentials are visible through IMDSv2, restart the agent.
# 4. Write $EASYTDV_HOME/bootstrap.seconds (its own run time, which install.sh
#    reports once as the phase "boot") and $EASYTDV_HOME/bootstrap.done.
#
# Steps 2 and 3 change the machine, so they run only on a real instance:
# there EASYTDV_HOME is not set by anyone (cloud-init runs this as root).
# The local sandbox sets EASYTDV_HOME to the fake instance's directory, and
# this script then only does steps 1 and 4 and exits 0 at once (it must
# never schedule a shutdown of the machine the sandbox runs on).
# Every step is bounded; the script always exits 0.

set -u

if [ -n "${EASYTDV_HOME:-}" ]; then
    real_instance=0
else
    real_instance=1
fi
# Test hook (tests/templates only, with fake shutdown/systemctl/curl on PATH).
if [ "${EASYTDV_BOOTSTRAP_ASSUME_EC2:-}" = 1 ]; then
    real_instance=1
fi
EASYTDV_HOME="${EASYTDV_HOME:-/opt/easytdv}"
MAX_RUNTIME_MINUTES="__MAX_RUNTIME_MINUTES__"
IMDS="http://169.254.169.254"

log() { echo "easytdv bootstrap: $*"; }
# Its own run time, for install.sh to report (the benchmark's machine time).
started_us="${EPOCHREALTIME//[!0-9]/}"

mkdir -p "$EASYTDV_HOME" || log "could not create $EASYTDV_HOME"

if [ "$real_instance" = 1 ] && { [ "$(id -u)" = 0 ] || [ "${EASYTDV_BOOTSTRAP_ASSUME_EC2:-}" = 1 ]; }; then
    # --- Safety net: power off (= terminate) after the maximum run time. ----
    case "$MAX_RUNTIME_MINUTES" in
        '' | *[!0-9]*) log "no valid maximum run time ($MAX_RUNTIME_MINUTES); no safety shutdown scheduled" ;;
        *)
            if command -v shutdown >/dev/null 2>&1; then
                if shutdown -h "+$MAX_RUNTIME_MINUTES" "easyTDV: maximum run time reached" >/dev/null 2>&1; then
                    log "safety shutdown scheduled in $MAX_RUNTIME_MINUTES minutes"
                    # install.sh/train.sh read it: a failure's shutdown is never
                    # later than this, and a retry restores it.
                    echo $(($(date +%s) + MAX_RUNTIME_MINUTES * 60)) >"$EASYTDV_HOME/deadline" \
                        || log "could not write $EASYTDV_HOME/deadline"
                else
                    log "could not schedule the safety shutdown"
                fi
            fi
            ;;
    esac

    # --- SSM agent: restart once instance credentials are available. --------
    ssm_unit=""
    if command -v systemctl >/dev/null 2>&1; then
        for unit in amazon-ssm-agent.service snap.amazon-ssm-agent.amazon-ssm-agent.service; do
            if systemctl cat "$unit" >/dev/null 2>&1; then
                ssm_unit="$unit"
                break
            fi
        done
    fi
    if [ -n "$ssm_unit" ] && command -v curl >/dev/null 2>&1; then
        imds_token() {
            curl -fsS --connect-timeout 1 --max-time 3 -X PUT "$IMDS/latest/api/token" \
                -H "X-aws-ec2-metadata-token-ttl-seconds: 300" 2>/dev/null
        }
        token="$(imds_token)"
        if [ -z "$token" ]; then
            sleep 1
            token="$(imds_token)"
        fi
        if [ -z "$token" ]; then
            log "instance metadata not reachable: not on EC2, skipping the SSM agent restart"
        else
            found=0
            deadline=$((SECONDS + 120))
            while [ "$SECONDS" -lt "$deadline" ]; do
                role="$(curl -fsS --connect-timeout 1 --max-time 3 \
                    -H "X-aws-ec2-metadata-token: $token" \
                    "$IMDS/latest/meta-data/iam/security-credentials/" 2>/dev/null | head -n 1)"
                if [ -n "$role" ]; then
                    found=1
                    break
                fi
                sleep 3
                # Tokens last 300 s; refresh in case a long wait outlived one.
                new_token="$(imds_token)"
                if [ -n "$new_token" ]; then token="$new_token"; fi
            done
            if [ "$found" = 1 ]; then
                log "instance role credentials visible ($role); restarting $ssm_unit"
            else
                log "instance role credentials not visible after 120 s; restarting $ssm_unit anyway"
            fi
            systemctl restart "$ssm_unit" || log "could not restart $ssm_unit"
        fi
    fi
fi

if [ -n "$started_us" ]; then
    took_us=$((${EPOCHREALTIME//[!0-9]/} - started_us))
    printf '%d.%03d\n' $((took_us / 1000000)) $(((took_us / 1000) % 1000)) >"$EASYTDV_HOME/bootstrap.seconds" 2>/dev/null \
        || log "could not write $EASYTDV_HOME/bootstrap.seconds"
fi
date -u +%Y-%m-%dT%H:%M:%SZ >"$EASYTDV_HOME/bootstrap.done" 2>/dev/null \
    || log "could not write $EASYTDV_HOME/bootstrap.done"
log "done"
exit 0
