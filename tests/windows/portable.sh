#!/usr/bin/env bash
# The portable Windows .zip: easytdv-app.exe, the easytdv CLI, every DLL the
# .exe files load that Windows does not have (WebView2Loader.dll, which the
# MinGW build loads at start), and the practice cloud's resources laid out
# as tauri.conf.json's bundle.resources says (Tauri looks for resources beside
# the .exe on Windows). Checks what it built: every DLL the .exe files import
# is a Windows one or in the zip, and every resource is there.
#
#   tests/windows/portable.sh debug|release      (after the .exe files are built)
#
# Prints the zip's path, size and listing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
profile="${1:?debug or release}"
target=x86_64-pc-windows-gnu
bin="${CARGO_TARGET_DIR:-/var/tmp/easytdv-target}/$target/$profile"
version=$(python3 -c 'import json; print(json.load(open("tauri.conf.json"))["version"])')
zip_path="$bin/easyTDV_${version}_x64-portable.zip"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
dir="$stage/easyTDV"
mkdir -p "$dir"
cp "$bin/easytdv-app.exe" "$bin/easytdv.exe" "$dir/"
# A debug build carries its debug information (about 500 MB each): not in a zip.
[[ "$profile" == release ]] || x86_64-w64-mingw32-strip "$dir"/*.exe

# Resources: the same globs and targets as the .deb's.
python3 - "$dir" <<'EOF'
import glob, json, os, shutil, sys
dest = sys.argv[1]
resources = json.load(open("tauri.conf.json"))["bundle"]["resources"]
for pattern, target in resources.items():
    found = [p for p in glob.glob(pattern) if os.path.isfile(p)]
    if not found:
        sys.exit(f"no file for the resource {pattern}")
    for path in found:
        out = os.path.join(dest, target, os.path.basename(path)) if target.endswith("/") else os.path.join(dest, target)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        shutil.copyfile(path, out)
EOF

# Every DLL the .exe files import: one Windows has (Wine implements the same
# set, so its list is the reference; Wine 8 lacks bcryptprimitives.dll, which
# Windows 10 and later have), or shipped here.
wine_dlls=/usr/lib/x86_64-linux-gnu/wine/x86_64-windows
[[ -d "$wine_dlls" ]] || { echo "Wine's DLL folder $wine_dlls is missing: run ./dev deps" >&2; exit 1; }
missing=0
for exe in "$dir"/*.exe; do
  while read -r dll; do
    lower=$(tr '[:upper:]' '[:lower:]' <<<"$dll")
    [[ -f "$wine_dlls/$lower" || "$lower" == api-ms-win-* || "$lower" == bcryptprimitives.dll || -f "$dir/$dll" ]] && continue
    if [[ -f "$bin/$dll" ]]; then
      cp "$bin/$dll" "$dir/"
    else
      echo "$(basename "$exe") needs $dll, which is neither Windows' nor built here" >&2
      missing=1
    fi
  done < <(x86_64-w64-mingw32-objdump -p "$exe" | sed -n 's/^\s*DLL Name: //p' | sort -u)
done
((missing == 0)) || exit 1

rm -f "$zip_path"
level=-9
[[ "$profile" == release ]] || level=-1
(cd "$stage" && zip -qr -X "$level" "$zip_path" easyTDV)
printf '  portable zip: %s, %s bytes (%s)\n' "$zip_path" "$(stat -c %s "$zip_path")" "$(du -h "$zip_path" | cut -f1)"
# Its .exe and .dll files, then how many resource files under each folder.
unzip -Z1 "$zip_path" >"$stage/list"
unzip -l "$zip_path" | awk '$4 ~ /\.(exe|dll)$/ {printf "    %12d  %s\n", $1, $4}'
grep -v '/$' "$stage/list" | grep -v '\.\(exe\|dll\)$' | cut -d/ -f2-3 | sort | uniq -c | awk '{printf "    %5d files in %s\n", $1, $2}'
for want in easyTDV/sandbox/easytdv_sandbox/cli.py easyTDV/sandbox/runtime-requirements.txt easyTDV/examples/digits/train.py; do
  grep -qx "$want" "$stage/list" || { echo "the zip lacks $want" >&2; exit 1; }
done
