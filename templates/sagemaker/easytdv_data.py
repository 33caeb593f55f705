"""easyTDV: a run's data folder on SageMaker, rebuilt from the job's `data`
channel before train.py starts (the launcher, easytdv_launch.py, calls
`prepare`).

The core sends a data folder's files as content-addressed blobs
(easytdv/blobs/<sha256>, as for EC2) and gives the job a SageMaker manifest
file listing each needed blob once, so SageMaker downloads every blob into
the channel directory (/opt/ml/input/data/data, SM_CHANNEL_DATA, DATA_DIR)
under its SHA-256. easytdv-data.json, shipped beside this file in
sourcedir.tar.gz, says which file goes where:

    {"format": 1, "link": "data" | null,
     "files": [{"path": "sub/a.csv", "sha256": "<64 hex>", "size": 3, "mode": 420}, ...]}

Here every blob is first moved aside (a data file may be named like another
blob's SHA-256), each is checked against its SHA-256 (a mismatch refuses the
run with exit code 83, as on EC2), then renamed or hard-linked to its paths
(a file at two paths is one blob), never outside the channel directory, with
its mode. When the folder was inside the project (`link`), its place in the
project is a symbolic link to the channel directory, so a script that reads
`data/points.csv` finds it. With torchrun each process of a machine runs the
launcher: the first does the work under a lock, the others find it done.
A run without easytdv-data.json (no data, or an S3 location read in place)
is left as it is.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile

FOLDER_FILE = "easytdv-data.json"
CHANNEL_DIR = "/opt/ml/input/data/data"
DATA_REFUSED = 83  # as on EC2 (templates/instance/easytdv_helper.py)
ASIDE = ".easytdv-blobs"
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MODES = (0o644, 0o755)


class Refused(Exception):
    """The data is not what easyTDV sent: the training does not start."""


def safe_path(path):
    """What the app's manifest may name (src-tauri/core/src/project/manifest.rs)."""
    return (
        isinstance(path, str)
        and 0 < len(path.encode("utf-8", "surrogatepass")) <= 1024
        and not path.startswith("/")
        and not any(c in path for c in "\\\0")
        and not any(ord(c) < 32 or ord(c) == 127 for c in path)
        and all(part not in ("", ".", "..") for part in path.split("/"))
    )


def read_folder_file(path):
    """easytdv-data.json, checked; Refused when it is not easyTDV's."""
    try:
        with open(path, "rb") as f:
            m = json.loads(f.read().decode("utf-8"))
        files, link = m["files"], m.get("link")
        if m.get("format") != 1 or not isinstance(files, list):
            raise ValueError("not format 1")
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise Refused(f"{FOLDER_FILE} cannot be read ({e})") from None
    if link is not None and not safe_path(link):
        raise Refused(f"{FOLDER_FILE} names a place that is not inside the project: {link!r}")
    seen = set()
    for f in files:
        p = f.get("path") if isinstance(f, dict) else None
        if not safe_path(p) or p in seen or p.split("/")[0] == ASIDE:
            raise Refused(f"{FOLDER_FILE} names a path that is not inside the data folder: {p!r}")
        if not (isinstance(f.get("sha256"), str) and SHA256.match(f["sha256"])):
            raise Refused(f"{FOLDER_FILE} gives {p} no valid SHA-256")
        if not isinstance(f.get("size"), int) or f["size"] < 0 or f.get("mode") not in MODES:
            raise Refused(f"{FOLDER_FILE} gives {p} no valid size or mode")
        seen.add(p)
    # A file and a folder of the same name cannot both be.
    folders = {"/".join(p.split("/")[:i]) for p in seen for i in range(1, p.count("/") + 1)}
    if folders & seen:
        raise Refused(f"{FOLDER_FILE} names {sorted(folders & seen)[0]!r} as a file and a folder")
    return m


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _inside(root, path):
    """`path`'s folder, resolved, is `root` or under it (no link leads out)."""
    real = os.path.realpath(os.path.dirname(path))
    return real == root or real.startswith(root + os.sep)


def materialise(channel, files):
    """The channel's blobs become the folder `files` describes (see the module)."""
    channel = os.path.realpath(channel)
    aside = os.path.join(channel, ASIDE)
    os.makedirs(aside, exist_ok=True)
    # 1. Every downloaded file aside, by its name (SageMaker names each by
    #    the manifest's suffix: the blob's SHA-256), and its folders gone.
    for d, dirs, names in os.walk(channel, topdown=False):
        if os.path.realpath(d) == aside or os.path.dirname(os.path.realpath(d)) == aside:
            continue
        for n in dirs:
            if os.path.islink(os.path.join(d, n)):
                os.unlink(os.path.join(d, n))
        for n in names:
            src = os.path.join(d, n)
            if os.path.islink(src) or not os.path.isfile(src):
                os.unlink(src)
            else:
                os.replace(src, os.path.join(aside, n))
        if os.path.realpath(d) != channel:
            os.rmdir(d)
    # 2. Each blob checked once.
    by_sha = {}
    for f in files:
        by_sha.setdefault(f["sha256"], []).append(f)
    problems = []
    for sha, group in sorted(by_sha.items()):
        blob = os.path.join(aside, sha)
        if not os.path.isfile(blob):
            problems.append(f"{group[0]['path']} is missing from the data channel (blob {sha})")
            continue
        got = _sha256(blob)
        if got != sha:
            names = ", ".join(f["path"] for f in group)
            problems.append(f"{names} is not the file easyTDV sent (SHA-256 {got}, expected {sha})")
    if problems:
        raise Refused("; ".join(problems[:20]))
    # 3. In place: the blob itself at its first path, hard links for the
    #    same content and mode, a copy for another mode (a link shares it).
    for sha, group in sorted(by_sha.items()):
        placed = {}
        first = None
        for f in group:
            target = os.path.join(channel, *f["path"].split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not _inside(channel, target) or os.path.lexists(target):
                raise Refused(f"{f['path']} cannot be written inside the data folder")
            if first is None:
                os.replace(os.path.join(aside, sha), target)
                first = target
            elif f["mode"] in placed:
                os.link(placed[f["mode"]], target)
            else:
                shutil.copyfile(first, target)
            os.chmod(target, f["mode"])
            placed.setdefault(f["mode"], target)
    shutil.rmtree(aside, ignore_errors=True)


def link_in_project(project, link, channel):
    """The data folder's place in the project, a link to the channel (when
    nothing of the project is there already)."""
    target = os.path.join(project, *link.split("/"))
    if os.path.lexists(target):
        return False
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not _inside(os.path.realpath(project), target):
        return False
    os.symlink(channel, target)
    return True


def prepare(project):
    """Rebuilds the data folder when the run has one; exits 83 when the
    data is not what easyTDV sent."""
    folder_file = os.path.join(project, FOLDER_FILE)
    if not os.path.exists(folder_file):
        return
    channel = os.environ.get("SM_CHANNEL_DATA") or os.environ.get("DATA_DIR") or CHANNEL_DIR
    try:
        m = read_folder_file(folder_file)
        with open(folder_file, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        # One record per channel folder (what a machine's processes share).
        where = hashlib.sha256(os.path.realpath(channel).encode()).hexdigest()[:16]
        lock_path = os.path.join(tempfile.gettempdir(), f"easytdv-data-{where}.lock")
        with open(lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.seek(0)
            if lock.read().strip() != digest:
                materialise(channel, m["files"])
                lock.seek(0)
                lock.truncate()
                lock.write(digest)
                lock.flush()
        if m.get("link") and link_in_project(project, m["link"], channel):
            print(f"easytdv: data folder also at {m['link']} in the project", flush=True)
    except Refused as e:
        print(f"easytdv: refused the run's data: {e}: the data was not used", file=sys.stderr, flush=True)
        sys.exit(DATA_REFUSED)
    except OSError as e:
        print(f"easytdv: could not set out the run's data in {channel}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"easytdv: data {len(m['files'])} files in {channel}", flush=True)
