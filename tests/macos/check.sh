#!/usr/bin/env bash
# macOS in CI, on Linux: `cargo check` of the core, the CLI and the app for
# aarch64-apple-darwin (Apple silicon), with zig as the C compiler for the
# crates that build C (SQLite, aws-lc). It type-checks every macOS-only path
# of ours and of our dependencies (the keyring's apple-native backend,
# notifications through osascript, Tauri's and rfd's Cocoa code); it does not
# link (that needs Apple's SDK) and runs nothing.
#
#   tests/macos/check.sh       (zig: the `ziglang` wheel from PyPI, pinned with its hash, in tests/macos/.venv)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."

target=aarch64-apple-darwin
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/easytdv-target}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
ZIGLANG_VERSION=0.14.1 # as tests/macos/requirements.txt pins it

venv="$here/.venv"
if ! "$venv/bin/python" -c "import ziglang, importlib.metadata as m; assert m.version('ziglang') == '$ZIGLANG_VERSION'" 2>/dev/null; then
  printf '\033[1m[macos] zig %s (PyPI ziglang)\033[0m\n' "$ZIGLANG_VERSION" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r "$here/requirements.txt"
fi
export EASYTDV_ZIG_PYTHON="$venv/bin/python"
export CC_aarch64_apple_darwin="$here/zig-cc" CXX_aarch64_apple_darwin="$here/zig-c++" \
  AR_aarch64_apple_darwin="$here/zig-ar"
# Where Apple's SDK would be; crates that ask for it find zig's own headers.
export MACOSX_DEPLOYMENT_TARGET=11.0

printf '\033[1m[macos] cargo check --target %s (core, CLI, app)\033[0m\n' "$target" >&2
started=$(date +%s)
cargo check --locked --target "$target" --workspace --bins --lib
printf '  macOS check: %d s\n' $(($(date +%s) - started))
# The keychain backend the macOS build compiles: Apple's, not a fallback.
tree=$(cargo tree --locked --target "$target" -p easytdv-core -e features -i keyring)
grep -q 'keyring feature "apple-native"' <<<"$tree" \
  || { echo "the macOS build does not use the keyring's apple-native backend" >&2; exit 1; }
echo "  keyring: apple-native backend"
