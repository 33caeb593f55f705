#!/usr/bin/env bash
# The whole app in a real window: builds the UI and the app, starts the local
# AWS sandbox, Xvfb, a private D-Bus session with an unlocked keyring, and
# tauri-driver (+ WebKitWebDriver), then runs tests/e2e/test_app.py with the
# sandbox venv's Python. Every process it starts is stopped on exit, whatever
# happens. Exit code = pytest's.
#
#   tests/e2e/run.sh [pytest args...]
#   EASYTDV_E2E_SKIP_BUILD=1 tests/e2e/run.sh     # reuse the built UI and binary
#   EASYTDV_E2E_APP=/usr/bin/easytdv-app EASYTDV_E2E_ONLY=practice tests/e2e/run.sh
#                                                 # only the try-mode test, on an installed app
#
# Two app sessions: test_app.py with a sandbox started here, then
# test_practice.py with none, where the app starts its own practice cloud
# (from a fresh data folder; pip's downloads are cached in
# $EASYTDV_PIP_CACHE, default /var/tmp/easytdv-pip-cache).
#
# Screenshots go to tests/e2e/screenshots/ (cleared at each run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/easytdv-target}"
# Keep rustup and cargo working once HOME is swapped below.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export PATH="$CARGO_HOME/bin:$PATH"
export AWS_EC2_METADATA_DISABLED=true

say() { printf '\033[1m[e2e] %s\033[0m\n' "$*" >&2; }

command -v tauri-driver >/dev/null || { echo "tauri-driver is missing: run ./dev deps (cargo install tauri-driver --locked --version 2.1.0)" >&2; exit 1; }
[[ -x /usr/bin/WebKitWebDriver ]] || { echo "WebKitWebDriver is missing: run ./dev deps (package webkit2gtk-driver)" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/easytdv-e2e.XXXXXX")"
# Every process started below carries this marker in its environment, so the
# cleanup finds exactly them (and their children: the app, WebKit's helper
# processes, dbus-daemon, gnome-keyring-daemon), and nothing else.
export EASYTDV_E2E_TAG="$tmp"
xvfb_pid=""

kill_tagged() { # $1 = signal
  local pid env
  for env in /proc/[0-9]*/environ; do
    pid="${env#/proc/}"; pid="${pid%/environ}"
    [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
    if grep -qzxF "EASYTDV_E2E_TAG=$tmp" "$env" 2>/dev/null; then
      kill "-$1" "$pid" 2>/dev/null || true
    fi
  done
}

cleanup() {
  local rc=$?
  set +e
  tests/sandbox/stop --pidfile "$tmp/sandbox.pid" >/dev/null 2>&1
  [[ -n "$xvfb_pid" ]] && kill "$xvfb_pid" 2>/dev/null
  kill_tagged TERM
  sleep 1
  kill_tagged KILL
  [[ -n "$xvfb_pid" ]] && wait "$xvfb_pid" 2>/dev/null
  if [[ $rc -ne 0 && -d "$tmp/logs" ]]; then
    say "logs kept in $root/tests/e2e/logs/"
    rm -rf "$here/logs"; cp -r "$tmp/logs" "$here/logs"
    cp "$tmp/sandbox/sandbox.log" "$here/logs/" 2>/dev/null
    cp -r "$tmp/data/logs" "$here/logs/app" 2>/dev/null  # the app's own tracing log
    cp -r "$tmp/data-practice/logs" "$here/logs/app-practice" 2>/dev/null
    cp "$tmp/data-practice/practice-cloud/"*.log "$here/logs/" 2>/dev/null
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tmp/logs" "$tmp/home" "$tmp/data" "$tmp/pick"

app="${EASYTDV_E2E_APP:-$CARGO_TARGET_DIR/debug/easytdv-app}"
only="${EASYTDV_E2E_ONLY:-}"
if [[ "${EASYTDV_E2E_SKIP_BUILD:-}" != 1 ]]; then
  say "Building the UI and the app"
  npm --prefix ui run --silent build >"$tmp/logs/build.log" 2>&1 || { cat "$tmp/logs/build.log" >&2; exit 1; }
  cargo build --workspace --locked 2>>"$tmp/logs/build.log" || { tail -50 "$tmp/logs/build.log" >&2; exit 1; }
fi
[[ -x "$app" ]] || { echo "The app binary $app is missing: build it with cargo build --workspace" >&2; exit 1; }

tests/sandbox/setup.sh
if [[ "$only" != practice ]]; then
# Two lines: its address, and the access key it answers to (exported, never logged).
while IFS= read -r line; do
  case "$line" in EASYTDV_SANDBOX_ENDPOINT=* | EASYTDV_SANDBOX_ACCESS_KEY=*) export "${line?}" ;; esac
done < <(EASYTDV_SANDBOX_CFN_DELAY="${EASYTDV_SANDBOX_CFN_DELAY:-1}" \
  tests/sandbox/run --background --pidfile "$tmp/sandbox.pid" --port 0 --data-dir "$tmp/sandbox")
[[ -n "${EASYTDV_SANDBOX_ACCESS_KEY:-}" ]] || { echo "the sandbox did not start" >&2; exit 1; }
say "Sandbox at $EASYTDV_SANDBOX_ENDPOINT"
fi

# Xvfb picks a free display and writes its number to fd 3.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/display" >"$tmp/logs/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do [[ -s "$tmp/display" ]] && break; sleep 0.1; done
[[ -s "$tmp/display" ]] || { echo "Xvfb did not start" >&2; cat "$tmp/logs/xvfb.log" >&2; exit 1; }
export DISPLAY=":$(tr -d '[:space:]' <"$tmp/display")"
say "Xvfb on $DISPLAY"

free_port() { "$root/tests/sandbox/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export EASYTDV_E2E_DRIVER_PORT="$(free_port)" EASYTDV_E2E_NATIVE_PORT="$(free_port)"
export EASYTDV_E2E_APP="$app"
export EASYTDV_E2E_SCREENSHOTS="$here/screenshots"
rm -rf "$EASYTDV_E2E_SCREENSHOTS"; mkdir -p "$EASYTDV_E2E_SCREENSHOTS"
# Read by the app (spawned by WebKitWebDriver, which inherits this environment).
export EASYTDV_DATA_DIR="$tmp/data"
export EASYTDV_PICKED_SCRIPT="$tmp/pick/train.py" EASYTDV_PICKED_REQUIREMENTS="$tmp/pick/requirements.txt"
export EASYTDV_PICKED_FOLDER="$tmp/downloads"
export EASYTDV_E2E_PICK_DIR="$tmp/pick"
export EASYTDV_NOTIFY_LOG="$tmp/notifications.jsonl"
export HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/home/run"
mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
unset DBUS_SESSION_BUS_ADDRESS

session() { # $1 = test file, then pytest args
  local file="$1"; shift
  dbus-run-session -- bash -c '
    set -e
    echo -n easytdv-e2e | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    tauri-driver --port "$EASYTDV_E2E_DRIVER_PORT" --native-port "$EASYTDV_E2E_NATIVE_PORT" \
      >>"$EASYTDV_E2E_TAG/logs/tauri-driver.log" 2>&1 &
    driver=$!
    set +e
    "$0" -m pytest -q -p no:cacheprovider "$@" >&4 2>&3
    rc=$?
    kill "$driver" 2>/dev/null; wait "$driver" 2>/dev/null
    exit $rc
  ' "$root/tests/sandbox/.venv/bin/python" "$file" "$@" \
    3>&2 4>&1 >>"$tmp/logs/session.log" 2>&1  # D-Bus, portal and a11y chatter go to the log
}

rc=0
set +e
if [[ "$only" != practice ]]; then
  say "Running the tests (tauri-driver on port $EASYTDV_E2E_DRIVER_PORT)"
  session "$here/test_app.py" "$@"
  rc=$?
fi
if [[ $rc -eq 0 && "$only" != main ]]; then
  say "Try-mode: the app starts its own practice cloud (fresh data folder, no sandbox running)"
  unset EASYTDV_SANDBOX_ENDPOINT EASYTDV_SANDBOX_ACCESS_KEY
  export EASYTDV_DATA_DIR="$tmp/data-practice"
  export PIP_CACHE_DIR="${EASYTDV_PIP_CACHE:-/var/tmp/easytdv-pip-cache}"
  export EASYTDV_E2E_FIGURES="$tmp/figures.txt"
  session "$here/test_practice.py" "$@"
  rc=$?
  [[ -s "$EASYTDV_E2E_FIGURES" ]] && { say "Figures"; cat "$EASYTDV_E2E_FIGURES" >&2; }
fi
set -e
exit $rc
