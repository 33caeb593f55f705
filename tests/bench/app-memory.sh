#!/usr/bin/env bash
# Prints the memory (PSS, from /proc/PID/smaps_rollup) of the easyTDV app and
# its WebKit helper processes after it has shown its first screen under Xvfb.
# A benchmark, not a test: it prints figures and asserts nothing.
#   tests/bench/app-memory.sh [seconds-to-settle, default 8]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/easytdv-target}"
app="$CARGO_TARGET_DIR/debug/easytdv-app"
[[ -x "$app" ]] || { echo "build the app first: ./dev run (or cargo build --workspace)" >&2; exit 1; }
settle="${1:-8}"
tmp=$(mktemp -d)
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/display" >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [[ -s "$tmp/display" ]] && break; sleep 0.1; done
export DISPLAY=":$(tr -d '[:space:]' <"$tmp/display")" HOME="$tmp/home" EASYTDV_DATA_DIR="$tmp/data"
mkdir -p "$HOME"
dbus-run-session -- bash -c '
  echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  "$0" >/dev/null 2>&1 &
  app=$!
  sleep "$1"
  for pid in $app $(pgrep WebKitWebProces) $(pgrep WebKitNetworkP); do
    [[ -r /proc/$pid/smaps_rollup ]] || continue
    echo "$(cat /proc/$pid/comm) $(awk "/^Pss:/ {print \$2}" /proc/$pid/smaps_rollup)"
  done
  kill $app
' "$app" "$settle" 2>/dev/null | awk '
  BEGIN { printf "%-24s %9s\n", "process", "PSS MiB" }
  { printf "%-24s %9.1f\n", $1, $2 / 1024; t += $2 }
  END { printf "%-24s %9.1f\n", "total", t / 1024 }'
