"""S3 survives a restart of the sandbox.

moto keeps everything in memory. On a clean stop the sandbox writes every
bucket (its account and region) and the latest version of every object (bytes,
its metadata with the content type, modification date) to `<data dir>/s3-state/`; on
start it loads them back. The app's practice cloud relies on it: a sandbox
run's outputs and cached environments stay downloadable after the app is
closed and opened again. Everything else (stacks, instances, roles) starts
afresh, as after a reset; a run's stack is deleted when the run ends anyway.
A sandbox killed with SIGKILL keeps the state of its last clean stop.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime

from moto.s3.models import s3_backends

from .config import CONFIG

log = logging.getLogger("easytdv_sandbox.persist")
MANIFEST = "manifest.json"


def _state_dir():
    return CONFIG.data_dir / "s3-state"


def save() -> int:
    """Write every bucket and object; returns the number of objects written."""
    final = _state_dir()
    work = final.with_name("s3-state.new")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    buckets, count = [], 0
    for account_id in list(s3_backends.keys()):
        for backend in list(s3_backends[account_id].values()):
            for name, bucket in list(backend.buckets.items()):
                objects = []
                for key in list(bucket.keys.values()):
                    if getattr(key, "is_delete_marker", False):
                        continue
                    file = f"{count}.bin"
                    (work / file).write_bytes(key.value)
                    objects.append(
                        {
                            "key": key.name,
                            "file": file,
                            "metadata": dict(key.metadata),
                            "last_modified": key.last_modified.isoformat(),
                        }
                    )
                    count += 1
                buckets.append({"account": account_id, "name": name, "region": bucket.region_name, "objects": objects})
    (work / MANIFEST).write_text(json.dumps({"buckets": buckets}))
    old = final.with_name("s3-state.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    work.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return count


def load() -> int:
    """Load what `save` wrote, if anything; returns the number of objects loaded."""
    root = _state_dir()
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as e:
        log.warning("ignoring an unreadable S3 state in %s: %s", root, e)
        return 0
    count = 0
    for b in manifest.get("buckets", []):
        backend = s3_backends[b["account"]]["aws"]
        if b["name"] not in backend.buckets:
            backend.create_bucket(b["name"], b["region"])
        for o in b["objects"]:
            key = backend.put_object(b["name"], o["key"], (root / o["file"]).read_bytes())
            key.set_metadata(o.get("metadata") or {})
            key.last_modified = datetime.fromisoformat(o["last_modified"])
            count += 1
    return count
