#!/usr/bin/env bash
# The release package as a user gets it: checks the .deb's contents, installs
# it with apt-get, checks that the test seams are compiled out of the binary and
# that its declared dependencies provide every library the binary loads, starts the installed app under Xvfb (screenshot of its
# first screen, cold start time, PSS; then beside a minimal Tauri app's, with
# tests/bench/window-weight.sh), runs the try-mode end-to-end test on
# the installed binary (practice cloud + example, from the package's own
# resources), then uninstalls it and checks nothing is left.
# Prints figures; asserts only what must hold. Needs root or sudo.
#
#   tests/package/run.sh path/to/easytdv_X_amd64.deb
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
deb="$(realpath "${1:?usage: tests/package/run.sh path/to/package.deb}")"
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
say() { printf '\033[1m[package] %s\033[0m\n' "$*" >&2; }
fail() { printf '[package] FAILED: %s\n' "$*" >&2; exit 1; }

pkg="$(dpkg-deb -f "$deb" Package)"
declared="$(dpkg-deb -f "$deb" Depends)"
say "$pkg $(dpkg-deb -f "$deb" Version): $(stat -c %s "$deb") bytes; Depends: $declared; Recommends: $(dpkg-deb -f "$deb" Recommends)"
lib=/usr/lib/easyTDV
# dpkg-deb -c names files "usr/…" or "./usr/…", depending on the tool that built the archive.
contents="$(dpkg-deb -c "$deb" | sed -E 's# \./# /#; s# usr/# /usr/#')"
for f in /usr/bin/easytdv-app /usr/share/applications/easyTDV.desktop \
  $lib/sandbox/easytdv_sandbox/cli.py $lib/sandbox/easytdv_sandbox/data/prices/AmazonEC2-us-east-1.jsonl.gz \
  $lib/sandbox/easytdv_sandbox/data/sagemaker/pytorch-training.json \
  $lib/sandbox/runtime-requirements.txt $lib/examples/digits/train.py $lib/examples/digits/requirements.txt; do
  grep -q " $f\$" <<<"$contents" || fail "the package lacks $f"
done
grep -E " $lib/sandbox/easytdv_sandbox/shims/shutdown\$" <<<"$contents" | grep -q '^-rwx' ||
  fail "the sandbox's shutdown shim is not executable in the package"
if grep -q '__pycache__' <<<"$contents"; then fail "the package carries __pycache__ folders"; fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/easytdv-package.XXXXXX")"
xvfb_pid="" installed=""
cleanup() {
  local rc=$?
  set +e
  [[ -n "$xvfb_pid" ]] && kill "$xvfb_pid" 2>/dev/null
  if [[ -n "$installed" ]]; then
    say "Uninstalling"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$pkg" >/dev/null
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT

say "Installing with apt-get"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; fail "apt-get install"; }
installed=1
bin=/usr/bin/easytdv-app
[[ -x "$bin" ]] || fail "$bin is not installed"

say "Test seams: compiled out of the release binary"
# In a debug build these variables answer the native dialogs, send every AWS call to
# another address, or write notifications to a file (the end-to-end tests use them);
# a release build must hold neither the reads nor the names (#[cfg(debug_assertions)]).
seams=(EASYTDV_TEST_ENDPOINT_OVERRIDE EASYTDV_PICKED_SCRIPT EASYTDV_PICKED_REQUIREMENTS
  EASYTDV_PICKED_CSV EASYTDV_PICKED_FOLDER EASYTDV_PICKED_SAVE_PATH EASYTDV_NOTIFY_LOG)
check_seams() { # $1 = binary
  local var n
  # The check sees names in this binary: one the app does read is there.
  grep -a -q -F EASYTDV_DATA_DIR "$1" || fail "EASYTDV_DATA_DIR is not in $1: the seam check cannot see names"
  for var in "${seams[@]}"; do
    n=$(grep -a -c -F "$var" "$1" || true)
    [[ "$n" == 0 ]] || fail "$1 contains $var ($n times): a test seam is compiled into the release build"
  done
}
check_seams "$bin"
say "  none of ${#seams[@]} seam variables is in $bin"

say "Libraries: every one is found, and comes from a declared dependency"
if ldd "$bin" | grep -q 'not found'; then ldd "$bin" >&2; fail "libraries not found"; fi
names="$(tr ',' '\n' <<<"$declared" | sed -E 's/\(.*\)//; s/\|.*//; s/[[:space:]]//g' | grep -v '^$')"
# shellcheck disable=SC2086 # one word per package name
closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $names 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u)"
essential="$(dpkg-query -Wf '${Package} ${Essential}\n' | awk '$2 == "yes" {print $1}')"
missing=()
while read -r so; do
  owner="$(dpkg -S "$so" 2>/dev/null || dpkg -S "$(readlink -f "$so")" 2>/dev/null || true)"
  owner="${owner%%:*}"; owner="${owner%%,*}"
  [[ -n "$owner" ]] || { missing+=("$so (no package)"); continue; }
  grep -qxF "$owner" <<<"$closure" || grep -qxF "$owner" <<<"$essential" || missing+=("$so ($owner)")
done < <(ldd "$bin" | awk '/=>/ {print $3}')
((${#missing[@]} == 0)) || fail "libraries from packages the .deb does not depend on: ${missing[*]}"
say "  $(ldd "$bin" | grep -c '=>') libraries, all from: $(tr '\n' ' ' <<<"$names")"

say "Desktop entry and icon"
desktop=/usr/share/applications/easyTDV.desktop
grep -qx 'Name=easyTDV' "$desktop" || fail "desktop entry name: $(grep ^Name= "$desktop")"
grep -qx 'Exec=easytdv-app' "$desktop" || fail "desktop entry command: $(grep ^Exec= "$desktop")"
icon="$(sed -n 's/^Icon=//p' "$desktop")"
ls /usr/share/icons/hicolor/*/apps/"$icon".png >/dev/null 2>&1 || fail "no icon $icon in /usr/share/icons/hicolor"
grep -E '^(Name|Exec|Icon|Categories|Comment)=' "$desktop" | sed 's/^/  /' >&2

say "Starting the installed app under Xvfb"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/display" >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do [[ -s "$tmp/display" ]] && break; sleep 0.1; done
export DISPLAY=":$(tr -d '[:space:]' <"$tmp/display")"
mkdir -p "$tmp/home/run"; chmod 700 "$tmp/home/run"
start_once() { # $1 = label; prints the seconds to the first screen
  local data="$tmp/data-$1" t0 pid secs=""
  mkdir -p "$data"
  t0=$(date +%s.%N)
  HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/home/run" EASYTDV_DATA_DIR="$data" \
    dbus-run-session -- "$bin" >"$tmp/app-$1.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    if grep -qs 'first screen' "$data"/logs/*; then secs=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%.2f", a - b}'); break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [[ -n "$secs" ]] || { cat "$tmp/app-$1.log" >&2; fail "the app did not show its first screen"; }
  sleep 2 # let the first screen paint
  if [[ "$1" == first ]]; then
    import -window root "$root/tests/package/first-screen.png"
    local app webkit
    app=$(pgrep -n -f "^$bin") || fail "no app process"
    app_pss=$(awk '/^Pss:/ {print $2}' "/proc/$app/smaps_rollup")
    webkit=0
    for k in $(pgrep -P "$app"); do
      grep -q WebKit "/proc/$k/comm" && webkit=$((webkit + $(awk '/^Pss:/ {print $2}' "/proc/$k/smaps_rollup")))
    done
    say "  PSS on the first screen: app $((app_pss / 1024)) MiB + WebKit $((webkit / 1024)) MiB"
    xwininfo -root -tree | grep -q '"easyTDV"' || fail "no window titled easyTDV"
    std=$(convert "$root/tests/package/first-screen.png" -format '%[fx:standard_deviation]' info:)
    awk -v s="$std" 'BEGIN {exit !(s > 0.02)}' || fail "the first screen is blank (std dev $std)"
  fi
  pkill -TERM -f "^$bin" || true
  wait "$pid" 2>/dev/null || true
  echo "$secs"
}
say "  cold start to first screen: $(start_once first) s (screenshot: tests/package/first-screen.png)"
say "  second start to first screen: $(start_once second) s"

say "The window's weight beside a minimal Tauri 2 app's (tests/bench/window-weight.sh; figures only)"
tests/bench/window-weight.sh "$bin" || say "  the window-weight benchmark did not finish (see above): no figures this time"

say "Try-mode on the installed app: practice cloud and example from the package's resources"
EASYTDV_E2E_APP="$bin" EASYTDV_E2E_ONLY=practice EASYTDV_E2E_SKIP_BUILD=1 tests/e2e/run.sh

say "Uninstalling"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$pkg" >/dev/null
installed=""
[[ ! -e "$bin" && ! -e "$lib" && ! -e "$desktop" ]] || fail "files left after apt-get remove: $(ls -d "$bin" "$lib" "$desktop" 2>/dev/null)"
dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' && fail "$pkg still installed"
say "Package test passed"
