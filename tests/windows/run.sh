#!/usr/bin/env bash
# Windows in CI, on Linux: cross-builds the workspace for x86_64-pc-windows-gnu
# (MinGW) in one cargo invocation, so every dependency builds once, then runs
# under Wine:
#   - the core's unit tests (platform rules, paths, practice cloud...), and
#     the Windows-only one that finds Python through a `py.exe` launcher
#     (fake-python.c, built here, stands in for py.exe and python.exe);
#   - the core's keychain tests, against Wine's Credential Manager (the
#     keyring crate's windows-native backend, the one the Windows app uses);
#   - the CLI's integration tests: whole runs against the local AWS sandbox
#     (which itself runs on Linux, as the practice cloud would on Windows).
# EASYTDV_WINDOWS_CALLS=<file>: where to copy the AWS calls the CLI tests made
# (the sandbox's calls.jsonl), for the IAM policy check.
# It also builds the app's .exe (not run: WebView2 does not run under Wine),
# prints the sizes of the .exe files and makes and checks the portable .zip
# (portable.sh) from this debug build.
#
#   tests/windows/run.sh             (needs ./dev deps' packages: mingw-w64, wine)
#
# A fresh Wine prefix each time (about 10 s), stopped and removed on exit.
# Wine 8 (Debian 12) lacks bcryptprimitives.dll, which Rust's standard library
# calls for random bytes: a stand-in built here (bcryptprimitives.c) goes into
# the prefix's system32. Exit code: the first failing step's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

target=x86_64-pc-windows-gnu
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/easytdv-target}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export AWS_EC2_METADATA_DISABLED=true

say() { printf '\033[1m[windows] %s\033[0m\n' "$*" >&2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/easytdv-windows.XXXXXX")"
# No Mono or Gecko installer (their dialogs would wait when a display is set).
export WINEPREFIX="$tmp/wine" WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  local rc=$?
  set +e
  tests/sandbox/stop --pidfile "$tmp/sandbox.pid" >/dev/null 2>&1
  wineserver -k >/dev/null 2>&1
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT

[[ -d ui/dist ]] || { echo "ui/dist is missing: build the UI first (cd ui && npm run build; ./dev test does)" >&2; exit 1; }
started=$(date +%s)
say "Building the workspace for Windows ($target): the app, the CLI and the tests"
cargo build --locked --target "$target" --workspace --bins --tests \
  --message-format=json-render-diagnostics >"$tmp/build.json"
built=$(date +%s)

# The test executables cargo built, by package and target name.
exe() { # $1 = package, $2 = target name, $3 = kind (lib|test)
  python3 - "$tmp/build.json" "$1" "$2" "$3" <<'EOF'
import json, sys
path, package, name, kind = sys.argv[1:]
for line in open(path):
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m["profile"]["test"]:
        continue
    if f"/{package}#" in m["package_id"] or m["package_id"].startswith(f"{package} ") or f"#{package}@" in m["package_id"]:
        if m["target"]["name"] == name and kind in m["target"]["kind"]:
            print(m["executable"])
            break
EOF
}
core_unit=$(exe easytdv-core easytdv_core lib)
core_keychain=$(exe easytdv-core keychain test)
cli_it=$(exe easytdv-cli cli test)
for t in core_unit core_keychain cli_it; do
  [[ -n "${!t}" ]] || { echo "cargo built no test executable for $t" >&2; exit 1; }
done

say "A Wine prefix, with the stand-in bcryptprimitives.dll"
wineboot -i >"$tmp/wineboot.log" 2>&1
x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32

say "The local AWS sandbox (on Linux, as the practice cloud would be beside the app)"
while IFS= read -r line; do
  case "$line" in EASYTDV_SANDBOX_ENDPOINT=* | EASYTDV_SANDBOX_ACCESS_KEY=*) export "${line?}" ;; esac
done < <(tests/sandbox/run --background --pidfile "$tmp/sandbox.pid" --data-dir "$tmp/sandbox" --port 0)
[[ -n "${EASYTDV_SANDBOX_ACCESS_KEY:-}" ]] || { echo "The sandbox did not start (log: $tmp/sandbox/sandbox.log)." >&2; exit 1; }
export EASYTDV_SANDBOX_CFN_DELAY=0

# Tests that read Unix-only things say so with #[cfg(unix)]; everything else runs.
say "Core unit tests under Wine"
wine "$core_unit" --test-threads=2
say "Finding Python on Windows: the py launcher and its interpreter (a stand-in built here)"
x86_64-w64-mingw32-gcc -O2 -o "$tmp/fake-python.exe" "$here/fake-python.c"
EASYTDV_FAKE_PYTHON_EXE="$(winepath -w "$tmp/fake-python.exe" 2>/dev/null)" \
  wine "$core_unit" --ignored --exact practice::python::windows_tests::windows_the_py_launcher_names_the_python_it_starts \
  | tee "$tmp/python-test.log"
grep -q "test result: ok. 1 passed" "$tmp/python-test.log" || { echo "the Windows Python test did not run" >&2; exit 1; }
say "Core keychain tests under Wine (Credential Manager; one runs a secret through a whole run)"
wine "$core_keychain" --test-threads=1
say "CLI integration tests under Wine, against the local AWS sandbox"
wine "$cli_it" --test-threads=2
finished=$(date +%s)
# The calls those tests made, for ./dev test's IAM policy check (tests/policy).
if [[ -n "${EASYTDV_WINDOWS_CALLS:-}" ]]; then
  cp "$tmp/sandbox/calls.jsonl" "$EASYTDV_WINDOWS_CALLS"
fi

say "Windows figures (debug build)"
for f in easytdv-app.exe easytdv.exe; do
  p="$CARGO_TARGET_DIR/$target/debug/$f"
  printf '  %-16s %s bytes (%s)\n' "$f" "$(stat -c %s "$p")" "$(du -h "$p" | cut -f1)"
done
printf '  build %d s, tests under Wine %d s\n' $((built - started)) $((finished - built))
tests/windows/portable.sh debug
