#!/usr/bin/env bash
# The window's weight beside a Tauri 2 app with nothing of ours (issue 24):
# tests/bench/minimal-app (one static page, no commands, the same Tauri
# version, release profile and window size) and easyTDV, started one after
# the other, twice each, under one Xvfb: cold start to the first paint (and,
# for easyTDV, to its first screen with data), then PSS of the app and each
# WebKit process once settled; then easyTDV in the heavy states of the issue
# (tests/bench/window_states.py: 1,000 runs, a run page of 100,000 log lines
# and three 1,000-step charts, the same after 20 run pages), on a history the
# core's `window_seed` writes. A benchmark: it prints figures and asserts
# nothing.
#   tests/bench/window-weight.sh [easytdv-app binary, default: the release build]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/easytdv-target}"
ours="${1:-$CARGO_TARGET_DIR/release/easytdv-app}"
[[ -x "$ours" ]] || { echo "no easyTDV binary at $ours: ./dev package builds it" >&2; exit 1; }
settle="${EASYTDV_WEIGHT_SETTLE:-4}"
say() { printf '\033[1m[weight] %s\033[0m\n' "$*" >&2; }

say "Building the minimal Tauri app (release, as easyTDV's)"
cargo build --release --locked --features custom-protocol \
  --manifest-path tests/bench/minimal-app/Cargo.toml >&2
minimal="$CARGO_TARGET_DIR/release/easytdv-minimal-window"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/easytdv-weight.XXXXXX")"
xvfb=""
cleanup() {
  local rc=$?
  set +e
  [[ -n "$xvfb" ]] && kill "$xvfb" 2>/dev/null
  pkill -TERM -f "^$minimal" 2>/dev/null
  # The heavy states' app may still be writing its data as it quits.
  for _ in 1 2 3 4 5; do rm -rf "$tmp" 2>/dev/null && break; sleep 1; done
  exit "$rc"
}
trap cleanup EXIT
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/display" >"$tmp/xvfb.log" 2>&1 &
xvfb=$!
for _ in $(seq 100); do [[ -s "$tmp/display" ]] && break; sleep 0.1; done
export DISPLAY=":$(tr -d '[:space:]' <"$tmp/display")"
mkdir -p "$tmp/home/run"
chmod 700 "$tmp/home/run"

now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN {printf "%.2f", a - b}'; }
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

# measure <label> <binary> <title>: one line "paint first-data app webweb webnet"
measure() {
  local label=$1 bin=$2 title=$3 data="$tmp/data-$1-$RANDOM" t0 pid win="" paint="" first="-" app k
  mkdir -p "$data"
  t0=$(now)
  HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/home/run" EASYTDV_DATA_DIR="$data" \
    dbus-run-session -- "$bin" >"$tmp/$label.log" 2>&1 &
  pid=$!
  for _ in $(seq 400); do
    if [[ -z "$win" ]]; then
      win=$(xwininfo -root -tree 2>/dev/null | awk -v t="\"$title\":" '$2 == t {print $1; exit}')
    fi
    if [[ -n "$win" ]] && [[ -z "$paint" ]]; then
      std=$(import -window "$win" -colorspace gray -format '%[fx:standard_deviation]' info: 2>/dev/null || echo 0)
      awk -v s="$std" 'BEGIN {exit !(s > 0.02)}' && paint=$(since "$t0")
    fi
    if [[ "$first" == - ]] && grep -qs 'first screen' "$data"/logs/* 2>/dev/null; then first=$(since "$t0"); fi
    [[ -n "$paint" && ( "$first" != - || "$label" == minimal ) ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [[ -n "$paint" ]] || { cat "$tmp/$label.log" >&2; echo "[weight] $label never painted" >&2; exit 1; }
  sleep "$settle"
  app=$(pgrep -n -f "^$bin") || { echo "[weight] no $label process" >&2; exit 1; }
  local web=0 net=0
  for k in $(pgrep -P "$app"); do
    case "$(cat "/proc/$k/comm")" in
      WebKitWebProces*) web=$((web + $(pss_kib "$k"))) ;;
      WebKitNetworkP*) net=$((net + $(pss_kib "$k"))) ;;
    esac
  done
  echo "$paint $first $(pss_kib "$app") $web $net"
  pkill -TERM -f "^$bin" || true
  wait "$pid" 2>/dev/null || true
}

declare -A runs
for round in 1 2; do
  for label in minimal ours; do
    bin=$minimal title=minimal
    [[ $label == ours ]] && bin=$ours title=easyTDV
    runs[$label.$round]="$(measure "$label" "$bin" "$title")"
    say "$label, round $round: ${runs[$label.$round]}"
  done
done
# The same plain page drawn as easyTDV draws its own (WebKit's GPU compositing
# off: src-tauri/src/webview.rs), so what is ours shows apart from that setting.
runs[plain]="$(WEBKIT_DISABLE_COMPOSITING_MODE=1 measure plain "$minimal" minimal)"
say "minimal without GPU compositing: ${runs[plain]}"

# The second round (caches warm, as a user's every start but the first), side by side.
read -r mp _ ma mw mn <<<"${runs[minimal.2]}"
read -r op of oa ow on <<<"${runs[ours.2]}"
read -r mp1 _ _ _ _ <<<"${runs[minimal.1]}"
read -r op1 of1 _ _ _ <<<"${runs[ours.1]}"
read -r _ _ pa pw pn <<<"${runs[plain]}"
awk -v ma="$ma" -v mw="$mw" -v mn="$mn" -v oa="$oa" -v ow="$ow" -v on="$on" -v pt="$((pa + pw + pn))" \
  -v mp="$mp" -v op="$op" -v mp1="$mp1" -v op1="$op1" -v of="$of" -v of1="$of1" 'BEGIN {
  printf "%-28s %12s %12s %8s\n", "first screen (PSS, MiB)", "minimal", "easyTDV", "ratio"
  printf "%-28s %12.1f %12.1f %8.2f\n", "app process", ma / 1024, oa / 1024, oa / ma
  printf "%-28s %12.1f %12.1f %8.2f\n", "WebKitWebProcess", mw / 1024, ow / 1024, ow / mw
  printf "%-28s %12.1f %12.1f %8.2f\n", "WebKitNetworkProcess", mn / 1024, on / 1024, (mn ? on / mn : 0)
  mt = ma + mw + mn; ot = oa + ow + on
  printf "%-28s %12.1f %12.1f %8.2f\n", "total", mt / 1024, ot / 1024, ot / mt
  printf "%-28s %12.1f %12s %8.2f\n", "minimal, no GPU compositing", pt / 1024, "", ot / pt
  printf "%-28s %12s %12s\n", "start to first paint, s", mp1 " / " mp, op1 " / " op
  printf "%-28s %12s %12s\n", "start to first data, s", "-", of1 " / " of
  print "(start times: first start / second start; PSS of the second start, " '"$settle"' " s after its first screen)"
}'

say "easyTDV in heavy states (a history of 1,000 runs written by the core's window_seed)"
EASYTDV_BENCH_SEED_DIR="$tmp/heavy" cargo test -p easytdv-core --test it --locked window_seed -- --ignored >"$tmp/seed.log" 2>&1 ||
  { cat "$tmp/seed.log" >&2; echo "[weight] the history could not be written" >&2; exit 1; }
free_port() { tests/sandbox/.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/home/run" EASYTDV_DATA_DIR="$tmp/heavy" EASYTDV_E2E_APP="$ours" \
  EASYTDV_E2E_DRIVER_PORT="$(free_port)" EASYTDV_E2E_NATIVE_PORT="$(free_port)" \
  dbus-run-session -- bash -c '
    tauri-driver --port "$EASYTDV_E2E_DRIVER_PORT" --native-port "$EASYTDV_E2E_NATIVE_PORT" >"$0/driver.log" 2>&1 &
    driver=$!
    tests/sandbox/.venv/bin/python tests/bench/window_states.py "$1" "$2"
    rc=$?
    kill "$driver" 2>/dev/null; wait "$driver" 2>/dev/null
    exit $rc' "$tmp" "$((ma + mw + mn))" "$((pa + pw + pn))" 2>"$tmp/states.log" || { cat "$tmp/states.log" "$tmp/driver.log" >&2; exit 1; }
