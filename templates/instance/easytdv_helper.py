"""easyTDV instance helper: install.sh writes it to $EASYTDV_HOME/lib/ (Python 3.8+, stdlib only).

install.sh embeds this file verbatim (tests/templates checks the copy); train.sh
uses the copy install.sh wrote.

run     run a command; tee its stdout/stderr; write the timestamped combined
        log ("<epoch ms> <o|e> <text>" per line) and ship it to S3 in chunks
reqs    normalise a requirements file (what the cache key hashes)
key     the environment cache key
meta    write / size / read a cache description (JSON)
uv      fetch the pinned uv wheel from PyPI's JSON API and unpack uv
report  name==version of what a pip --report installed
"""

import hashlib
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
import zipfile


def _ms():
    return int(time.time() * 1000)


def _write_all(fd, data):
    try:
        while data:
            n = os.write(fd, data)
            data = data[n:]
    except OSError:
        pass  # SSM stopped reading: keep logging


class Shipper:
    """Uploads the log as fixed-size chunks: <dest><6-digit index>.log.

    A chunk is sealed once full and never uploaded again; only the last,
    growing chunk is re-uploaded when it changed. State survives a retry of
    the script on the same machine (the log is appended to)."""

    def __init__(self, log, dest, chunk, state, stage):
        self.log, self.dest, self.chunk = log, dest, max(1, chunk)
        self.state_path, self.stage = state, stage
        self.sealed, self.partial = 0, None
        self.warned = False
        try:
            with open(state) as f:
                saved = json.load(f)
            if saved.get("chunk") == self.chunk:
                self.sealed = int(saved["sealed"])
                self.partial = saved.get("partial")
        except (OSError, ValueError, KeyError, TypeError):
            pass

    def once(self):
        try:
            size = os.path.getsize(self.log)
        except OSError:
            return True
        if size < self.sealed * self.chunk:  # the log was replaced
            self.sealed, self.partial = 0, None
        full = size // self.chunk
        rest = size - full * self.chunk
        todo = [(i, self.chunk) for i in range(self.sealed, full)]
        if rest and self.partial != [full, rest]:
            todo.append((full, rest))
        if not todo:
            return True
        os.makedirs(self.stage, exist_ok=True)
        for name in os.listdir(self.stage):
            os.unlink(os.path.join(self.stage, name))
        with open(self.log, "rb") as src:
            for index, length in todo:
                src.seek(index * self.chunk)
                with open(os.path.join(self.stage, f"{index:06d}.log"), "wb") as out:
                    out.write(src.read(length))
        cmd = ["aws", "s3", "cp", "--recursive", "--only-show-errors", self.stage + "/", self.dest]
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            ok, why = done.returncode == 0, done.stderr.decode("utf-8", "replace").strip()
        except OSError as e:
            ok, why = False, str(e)
        if not ok:
            if not self.warned:
                self.warned = True
                _write_all(2, (f"easytdv: could not upload the log to {self.dest}: {why[-300:]}\n").encode())
            return False
        self.sealed = full
        self.partial = [full, rest] if rest else None
        try:
            with open(self.state_path + ".tmp", "w") as f:
                json.dump({"chunk": self.chunk, "sealed": self.sealed, "partial": self.partial}, f)
            os.replace(self.state_path + ".tmp", self.state_path)
        except OSError:
            pass
        return True


_BREAK = re.compile(rb"\r\n|\r|\n")


class LineLog:
    """Splits each stream into lines (\\n, \\r\\n or a lone \\r) and appends
    "<ms> <tag> <text>\\n" to the combined log."""

    MAX = 65536

    def __init__(self, path):
        self.out = open(path, "ab")
        self.pending = {}
        self.lock = threading.Lock()

    def feed(self, tag, data):
        buf = self.pending.get(tag, b"") + data
        hold = b""
        if buf.endswith(b"\r"):  # maybe the \r of a \r\n split across reads
            buf, hold = buf[:-1], b"\r"
        lines = _BREAK.split(buf)
        rest = lines.pop()
        if len(rest) >= self.MAX:
            lines.append(rest)
            rest = b""
        self.pending[tag] = rest + hold
        self._write(tag, lines)

    def close_stream(self, tag):
        rest = self.pending.pop(tag, b"")
        rest = rest[:-1] if rest.endswith(b"\r") else rest
        if rest:
            self._write(tag, [rest])

    def _write(self, tag, lines):
        if not lines:
            return
        stamp = f"{_ms()} {tag} ".encode()
        data = b"".join(stamp + line + b"\n" for line in lines)
        with self.lock:
            try:
                self.out.write(data)
                self.out.flush()
            except OSError:
                pass


def cmd_run(argv):
    opts, cmd = {}, []
    i = 0
    while i < len(argv):
        if argv[i] == "--":
            cmd = argv[i + 1 :]
            break
        opts[argv[i].lstrip("-")] = argv[i + 1]
        i += 2
    log = LineLog(opts["log"])
    raw = {}
    for tag, key in (("o", "raw-out"), ("e", "raw-err")):
        if opts.get(key):
            try:
                raw[tag] = open(opts[key], "wb")
            except OSError:
                pass
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def forward(signum, frame):
        try:
            proc.send_signal(signum)
        except OSError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)

    shipper, stop, thread = None, threading.Event(), None
    if opts.get("dest"):
        base = opts["log"]
        shipper = Shipper(
            opts["log"],
            opts["dest"],
            int(opts.get("chunk-bytes") or 1048576),
            base + ".ship.json",
            os.path.join(os.path.dirname(base), ".ship-" + os.path.basename(base)),
        )
        interval = max(0.05, float(opts.get("interval") or 5))

        def loop():
            while not stop.wait(interval):
                shipper.once()

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, ("o", 1))
    sel.register(proc.stderr, selectors.EVENT_READ, ("e", 2))
    while sel.get_map():
        for key, _ in sel.select(timeout=1.0):
            tag, fd = key.data
            try:
                data = os.read(key.fd, 65536)
            except InterruptedError:
                continue
            if not data:
                sel.unregister(key.fileobj)
                log.close_stream(tag)
                continue
            _write_all(fd, data)
            if tag in raw:
                try:
                    raw[tag].write(data)
                    raw[tag].flush()
                except OSError:
                    pass
            log.feed(tag, data)
    while True:
        try:
            rc = proc.wait()
            break
        except InterruptedError:
            continue
    if thread is not None:
        stop.set()
        thread.join()
        if not shipper.once():
            time.sleep(1)
            shipper.once()
    return 128 - rc if rc < 0 else rc


def normalised_requirements(path):
    """pip's requirements format, as the key sees it: comments, blank lines and
    surrounding whitespace dropped, runs of spaces made one, continuation lines
    joined; the order is kept (uv gives earlier requirements priority)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    text = re.sub(r"\\\r?\n", "", text)
    lines = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)
        line = " ".join(line.split())
        if line:
            lines.append(line)
    return lines


def cache_key(norm, python, arch, image):
    text = "easytdv-env-cache 1\npython {}\narch {}\nimage {}\nrequirements\n{}\n".format(
        python,
        arch,
        image,
        "\n".join(norm),
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cmd_reqs(argv):
    lines = normalised_requirements(argv[0])
    with open(argv[1], "w", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))
    print(len(lines))
    return 0


def cmd_key(argv):
    norm_path, python, arch, image = argv
    with open(norm_path, encoding="utf-8") as f:
        norm = f.read().splitlines()
    print(cache_key(norm, python, arch, image))
    return 0


def cmd_meta(argv):
    if argv[0] == "write":
        out, key, norm_path, python, arch, image, installer, archive, size = argv[1:]
        with open(norm_path, encoding="utf-8") as f:
            reqs = f.read()
        meta = {
            "key": key,
            "requirements": reqs,
            "python": python,
            "arch": arch,
            "image": image,
            "installer": installer,
            "archive": archive,
            "size": int(size),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with open(out, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        return 0
    if argv[0] == "sized":  # sized SRC SIZE OUT: the same description, with the archive's size
        with open(argv[1], encoding="utf-8") as f:
            meta = json.load(f)
        meta["size"] = int(argv[2])
        with open(argv[3], "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        return 0
    # read: print "<archive> <created>"; exit 1 when unreadable
    try:
        with open(argv[1], encoding="utf-8") as f:
            meta = json.load(f)
        archive, created = meta["archive"], meta["created"]
        if not re.match(r"^[0-9a-f]{64}\.tar\.(zst|gz)$", archive) or not archive.startswith(argv[2]):
            raise ValueError(archive)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"unreadable sidecar: {e}", file=sys.stderr)
        return 1
    print(archive, created)
    return 0


def cmd_uv(argv):
    """uv VERSION DEST_DIR INDEX_URL ARCH: the manylinux wheel for ARCH, checked
    against PyPI's sha256, its uv binary unpacked to DEST_DIR/uv."""
    import urllib.request

    version, dest, index, arch = argv
    url = "{}/pypi/uv/{}/json".format(index.rstrip("/"), version)
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            files = json.loads(r.read().decode("utf-8"))["urls"]
    except Exception as e:  # noqa: BLE001 - any failure means "no uv", said in one line
        print(f"{url}: {e}", file=sys.stderr)
        return 1
    wheels = sorted(
        (f for f in files if f["filename"].endswith(f"_{arch}.whl") and "manylinux" in f["filename"]),
        key=lambda f: f["filename"],
    )
    if not wheels:
        print(f"no uv {version} wheel for {arch} on {index}", file=sys.stderr)
        return 1
    try:
        return _unpack_uv(version, dest, wheels[0])
    except Exception as e:  # noqa: BLE001
        print("{}: {}".format(wheels[0]["url"], e), file=sys.stderr)
        return 1


def _unpack_uv(version, dest, wheel):
    import urllib.request

    os.makedirs(dest, exist_ok=True)
    tmp = os.path.join(dest, wheel["filename"] + ".part")
    digest = hashlib.sha256()
    with urllib.request.urlopen(wheel["url"], timeout=300) as r, open(tmp, "wb") as out:
        while True:
            block = r.read(1 << 20)
            if not block:
                break
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != wheel["digests"]["sha256"]:
        os.unlink(tmp)
        print("uv wheel checksum mismatch", file=sys.stderr)
        return 1
    member = f"uv-{version}.data/scripts/uv"
    with zipfile.ZipFile(tmp) as z, z.open(member) as src, open(os.path.join(dest, "uv.part"), "wb") as out:
        while True:
            block = src.read(1 << 20)
            if not block:
                break
            out.write(block)
    os.chmod(os.path.join(dest, "uv.part"), 0o755)
    os.replace(os.path.join(dest, "uv.part"), os.path.join(dest, "uv"))
    os.unlink(tmp)
    print(os.path.join(dest, "uv"))
    return 0


def cmd_report(argv):
    with open(argv[0], encoding="utf-8") as f:
        report = json.load(f)
    for item in report.get("install", []):
        meta, info = item.get("metadata", {}), item.get("download_info") or {}
        url, vcs = info.get("url"), info.get("vcs_info")
        if url and vcs:
            print("{}+{}@{}".format(vcs["vcs"], url, vcs["commit_id"]))
        elif url:
            print(url)
        else:
            print("{}=={}".format(meta["name"], meta["version"]))
    return 0


def main(argv):
    commands = {"run": cmd_run, "reqs": cmd_reqs, "key": cmd_key, "meta": cmd_meta, "uv": cmd_uv, "report": cmd_report}
    if not argv or argv[0] == "check":
        return 0 if sys.version_info >= (3, 8) else 1
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
