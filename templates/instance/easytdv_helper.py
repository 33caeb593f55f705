"""easyTDV instance helper (Python 3.8+, stdlib only): beside install.sh and
train.sh in $EASYTDV_HOME/lib/, fetched with them from the run's prefix and
checked against the SHA-256 the app sent (templates/instance/fetch.sh).

run     run a command; tee its stdout/stderr; write the timestamped combined
        log ("<epoch ms> <o|e> <text>" per line) and ship it to S3 in chunks
reqs    normalise a requirements file (written in the cache's description)
meta    write / size / read a cache description (JSON)
digest  copy stdin to stdout; at the end, write the SHA-256 and size of what
        went by (a cache archive streamed into its unpacking)
sha256  the SHA-256 of a file
uv      fetch the pinned uv wheel from PyPI's JSON API, check it against the
        SHA-256 the app ships, and unpack uv
report  name==version of what a pip --report installed
nbfail  the cell where an executed notebook failed, in the notebook's numbering
get     download one S3 object (exit 3: bigger than --max-bytes, left to the AWS CLI)
put     upload one file to S3
putdir  upload a folder to S3, 8 files at a time (exit 3: files over 64 MiB were
        left to the AWS CLI, which uploads them in parts)
secrets-exec
        read the run's secrets from Parameter Store and become train.py with
        them in its environment (exit 81: they could not be read)
materialise  the run's project from its manifest (checked against the SHA-256
        the app sent) and easytdv/blobs/<sha256> (each checked too), 16 at a time
data    the run's data into $DATA_DIR from its manifest (checked the same way):
        blobs by SHA-256, presigned URLs of the person's S3 data by size and MD5

S3 is spoken here, not through the AWS CLI, for small objects: each `aws`
call starts a Python program of its own (0.3 to 1 s), and a run makes a dozen
of them. Requests are signed with Signature Version 4 (checked against
botocore's signer in tests/templates); credentials come from the environment,
else from the instance role (IMDSv2), like the SDKs' default chain. Every
request names the bucket's expected owner (EASYTDV_BUCKET_OWNER, the app's
account), so a bucket of the same name in another account is never used.
"""

import hashlib
import hmac
import os
import sys
import threading
import time

# Imported where used (zipfile, concurrent.futures, ...): the helper starts
# several times per command, and each import costs milliseconds.


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

    def __init__(self, log, dest, chunk, state):
        import json

        self.log, self.dest, self.chunk = log, dest, max(1, chunk)
        self.state_path = state
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
        import json
        import subprocess

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
        why = None
        try:
            bucket, prefix = split_s3(self.dest)
            with open(self.log, "rb") as src:
                for index, length in todo:
                    src.seek(index * self.chunk)
                    data = src.read(length)
                    sha = hashlib.sha256(data).hexdigest()
                    key = f"{prefix}{index:06d}.log"
                    try:
                        s3_request("PUT", bucket, key, data, len(data), sha, "text/plain; charset=utf-8").close()
                    except S3Error as e:  # the AWS CLI may get through (a proxy it knows, say)
                        cli = ["aws", "s3", "cp", "--only-show-errors", "-", f"s3://{bucket}/{key}"]
                        done = subprocess.run(cli, input=data, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                        if done.returncode != 0:
                            why = done.stderr.decode("utf-8", "replace").strip()
                            raise S3Error(e.status, f"{e}; aws: {why}") from None
        except (S3Error, OSError) as e:
            why = str(e)
        if why is not None:
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


class LineLog:
    """Splits each stream into lines (\\n, \\r\\n or a lone \\r) and appends
    "<ms> <tag> <text>\\n" to the combined log."""

    MAX = 65536

    def __init__(self, path):
        import re

        self.out = open(path, "ab")
        self.pending = {}
        self.lock = threading.Lock()
        self.breaks = re.compile(rb"\r\n|\r|\n")

    def feed(self, tag, data):
        buf = self.pending.get(tag, b"") + data
        hold = b""
        if buf.endswith(b"\r"):  # maybe the \r of a \r\n split across reads
            buf, hold = buf[:-1], b"\r"
        lines = self.breaks.split(buf)
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


# --- S3 (small objects), Signature Version 4 ----------------------------------
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SMALL = 64 << 20  # bigger files are left to the AWS CLI (multipart, parallel)


class S3Error(Exception):
    def __init__(self, status, text, code=""):
        super().__init__(text)
        self.status, self.code = status, code


def _urlopen(req, timeout, direct=False):
    import urllib.request

    if direct:  # the instance metadata service: never through a proxy
        return urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=timeout)
    return urllib.request.urlopen(req, timeout=timeout)


def _imds(path, token=None, method="GET", timeout=2):
    import urllib.request

    headers = {"X-aws-ec2-metadata-token": token} if token else {"X-aws-ec2-metadata-token-ttl-seconds": "21600"}
    # The SDKs' settings: another address (tests), or no metadata service at all.
    if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        raise S3Error(0, "the instance metadata service is disabled (AWS_EC2_METADATA_DISABLED)")
    base = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or "http://169.254.169.254"
    req = urllib.request.Request(base.rstrip("/") + path, method=method, headers=headers)
    with _urlopen(req, timeout, direct=True) as r:
        return r.read().decode("utf-8")


class Credentials:
    """The environment's keys, else the instance role's (IMDSv2), refreshed
    five minutes before they expire."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys, self.expires = None, 0.0

    def get(self):
        with self.lock:
            if self.keys is None or (self.expires and time.time() > self.expires - 300):
                self.keys, self.expires = self._load()
            return self.keys

    @staticmethod
    def _load():
        import json

        env = os.environ
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            return (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN")), 0.0
        import calendar

        try:
            token = _imds("/latest/api/token", method="PUT")
            role = _imds("/latest/meta-data/iam/security-credentials/", token).split("\n")[0].strip()
            doc = json.loads(_imds("/latest/meta-data/iam/security-credentials/" + role, token))
            expires = calendar.timegm(time.strptime(doc["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
            return (doc["AccessKeyId"], doc["SecretAccessKey"], doc.get("Token")), float(expires)
        except Exception as e:  # noqa: BLE001 - any failure means "no credentials", said once
            why = f"none in the environment and the instance role's are unreadable ({e})"
            raise S3Error(0, f"no AWS credentials: {why}") from None


CREDENTIALS = Credentials()


def _region():
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    try:
        return _imds("/latest/meta-data/placement/region", _imds("/latest/api/token", method="PUT")).strip()
    except Exception as e:  # noqa: BLE001
        raise S3Error(0, f"no AWS region: set AWS_REGION ({e})") from None


def s3_url(bucket, key, region):
    """(scheme://host, path): an endpoint override is addressed path-style
    (as the SDKs do); AWS virtual-hosted, or path-style for bucket names with
    dots (a virtual host would not match the TLS certificate)."""
    from urllib.parse import quote

    path = "/" + quote(key, safe="/~")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return endpoint.rstrip("/"), "/" + quote(bucket, safe="") + path
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    if "." in bucket:
        return f"https://s3.{region}.{suffix}", "/" + bucket + path
    return f"https://{bucket}.s3.{region}.{suffix}", path


def _hmac(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sign(method, host, path, headers, payload_sha256, keys, region, when, service="s3"):
    """The headers to add for Signature Version 4 (no query string; `path` as
    sent, already URI-encoded): x-amz-date, x-amz-content-sha256 (S3 only, as
    the SDKs do), the session token when there is one, and Authorization.
    `headers` (lower-case names) are signed too; `when` is a time.struct_time
    in UTC."""
    access, secret, token = keys
    stamp = time.strftime("%Y%m%dT%H%M%SZ", when)
    day = stamp[:8]
    signed = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signed.update({"host": host, "x-amz-date": stamp})
    if service == "s3":
        signed["x-amz-content-sha256"] = payload_sha256
    if token:
        signed["x-amz-security-token"] = token
    names = sorted(signed)
    canonical = "\n".join(
        [method, path, "", "".join(f"{n}:{signed[n]}\n" for n in names), ";".join(names), payload_sha256]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode("utf-8"), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out = {n: signed[n] for n in names if n != "host" and n not in {k.lower() for k in headers}}
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


def _s3_error(status, body):
    import re

    code = re.search(rb"<Code>([^<]*)</Code>", body or b"")
    message = re.search(rb"<Message>([^<]*)</Message>", body or b"")
    text = " ".join(m.group(1).decode("utf-8", "replace") for m in (code, message) if m)
    return S3Error(status, f"HTTP {status} {text}".strip(), code.group(1).decode("utf-8", "replace") if code else "")


def s3_request(method, bucket, key, body=None, size=0, sha=EMPTY_SHA256, content_type=None, tries=4):
    """One signed request; retried on a lost connection, 500, 503 (SlowDown).
    `body` is bytes or a callable that opens the payload afresh for each try.
    Returns the open response (the caller reads and closes it)."""
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    region = _region()
    base, path = s3_url(bucket, key, region)
    host = urlsplit(base).netloc
    owner = os.environ.get("EASYTDV_BUCKET_OWNER")
    for attempt in range(tries):
        headers = {}
        if method == "PUT":
            headers = {"Content-Length": str(size), "Content-Type": content_type or "binary/octet-stream"}
        # S3 answers 403 AccessDenied when the bucket belongs to another account.
        extra = {"x-amz-expected-bucket-owner": owner} if owner else {}
        headers.update(extra)
        headers.update(sign(method, host, path, extra, sha, CREDENTIALS.get(), region, time.gmtime()))
        data = body() if callable(body) else body
        req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
        try:
            return _urlopen(req, timeout=60)
        except urllib.error.HTTPError as e:
            error = _s3_error(e.code, e.read())
            if e.code not in (500, 502, 503, 504):
                raise error from None
        except (OSError, ValueError) as e:  # connection refused/reset, timeout, DNS
            error = S3Error(0, str(e))
        finally:
            if hasattr(data, "close"):
                data.close()
        if attempt + 1 < tries:
            time.sleep(0.25 * 2**attempt)
    raise error


def s3_get(bucket, key, dest, max_bytes=None):
    """Downloads to dest (through dest.part). False when the object is larger
    than max_bytes (nothing written)."""
    with s3_request("GET", bucket, key) as r:
        length = r.headers.get("Content-Length")
        if max_bytes is not None and length is not None and int(length) > max_bytes:
            return False
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        with open(dest + ".part", "wb") as out:
            while True:
                block = r.read(1 << 20)
                if not block:
                    break
                out.write(block)
    os.replace(dest + ".part", dest)
    return True


def _content_type(path):
    import mimetypes

    return mimetypes.guess_type(path)[0] or "binary/octet-stream"


def s3_put(path, bucket, key):
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    opened = (lambda: open(path, "rb")) if size else (lambda: b"")
    s3_request("PUT", bucket, key, opened, size, digest.hexdigest(), _content_type(path)).close()


def split_s3(url):
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise S3Error(0, f"not an s3://bucket/key address: {url}")
    bucket, key = url[5:].split("/", 1)
    return bucket, key


def _parallel(fn, items, workers=8):
    """fn(item) for every item, `workers` at a time; the results in order."""
    results, lock, todo = [None] * len(items), threading.Lock(), list(enumerate(items))

    def work():
        while True:
            with lock:
                if not todo:
                    return
                i, item = todo.pop(0)
            results[i] = fn(item)

    threads = [threading.Thread(target=work) for _ in range(min(workers, len(items)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _say_error(what, e):
    print(f"easytdv: {what}: {e}", file=sys.stderr)


def cmd_get(argv):
    """get [--max-bytes N] s3://bucket/key FILE [s3://... FILE ...], at the same
    time: 0 all downloaded, 3 one is bigger than N (left to the AWS CLI), 4 one
    is missing (404, or 403 AccessDenied: S3's answer for a missing key to a
    role that may not list), 1 another failure (a refused signature, a clock
    off, the network: the AWS CLI is worth a try)."""
    max_bytes = None
    if argv[:1] == ["--max-bytes"]:
        max_bytes, argv = int(argv[1]), argv[2:]
    pairs = [(argv[i], argv[i + 1]) for i in range(0, len(argv) - 1, 2)]

    def one(pair):
        try:
            return 0 if s3_get(*split_s3(pair[0]), pair[1], max_bytes) else 3
        except (S3Error, OSError) as e:
            _say_error(f"could not download {pair[0]}", e)
            missing = getattr(e, "status", 0) == 404 or getattr(e, "code", "") == "AccessDenied"
            return 4 if missing else 1

    codes = _parallel(one, pairs)
    return max(codes, default=0) if 1 not in codes else 1


def cmd_cat(argv):
    """cat [--max-bytes N] s3://bucket/key: the object's bytes on stdout as
    they arrive (the cache archive goes straight into zstd and tar: no copy on
    the disk). 0 done, 3 bigger than N (nothing written: the AWS CLI's
    parallel download is faster), 4 missing (as for get), 5 the reader
    stopped (an archive it cannot unpack), 1 another failure, possibly after
    some bytes: the reader must not trust what it got."""
    max_bytes = None
    if argv[:1] == ["--max-bytes"]:
        max_bytes, argv = int(argv[1]), argv[2:]
    out = sys.stdout.buffer
    try:
        with s3_request("GET", *split_s3(argv[0])) as r:
            length = r.headers.get("Content-Length")
            if max_bytes is not None and length is not None and int(length) > max_bytes:
                return 3
            while True:
                block = r.read(1 << 20)
                if not block:
                    break
                out.write(block)
        out.flush()
        return 0
    except BrokenPipeError:
        # The reader gave up (an archive it cannot unpack): no flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        _say_error(f"could not download {argv[0]}", "the reader stopped")
        return 5
    except (S3Error, OSError) as e:
        _say_error(f"could not download {argv[0]}", e)
        missing = getattr(e, "status", 0) == 404 or getattr(e, "code", "") == "AccessDenied"
        return 4 if missing else 1


def cmd_put(argv):
    try:
        s3_put(argv[0], *split_s3(argv[1]))
        return 0
    except (S3Error, OSError) as e:
        _say_error(f"could not upload {argv[0]} to {argv[1]}", e)
        return 1


def cmd_putdir(argv):
    """putdir [--max-bytes N] DIR s3://bucket/prefix/: every file below DIR; 0 all
    uploaded, 3 files up to N bytes uploaded and bigger ones left (listed on
    stderr), 1 a failure."""
    limit = SMALL
    if argv[:1] == ["--max-bytes"]:
        limit, argv = int(argv[1]), argv[2:]
    src, (bucket, prefix) = argv[0], split_s3(argv[1])
    small, big = [], []
    for dirpath, _, files in os.walk(src):
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, src).replace(os.sep, "/")
            (big if os.path.getsize(full) > limit else small).append((full, prefix + rel))
    failed = []

    def one(item):
        try:
            s3_put(item[0], bucket, item[1])
        except (S3Error, OSError) as e:
            failed.append(item[1])
            _say_error(f"could not upload {item[0]} to s3://{bucket}/{item[1]}", e)

    _parallel(one, small)
    for full, _ in big:
        print(f"easytdv: {full} is over {limit} bytes: left to the AWS CLI", file=sys.stderr)
    if failed:
        return 1
    return 3 if big else 0


# --- Parameter Store: the run's secrets -----------------------------------------
SECRETS_UNREADABLE = 81


class SecretsError(Exception):
    def __init__(self, text, denied=False):
        super().__init__(text)
        self.denied = denied


def ssm_call(target, payload):
    """One signed call of Systems Manager's JSON API (AmazonSSM.<target>);
    the decoded answer. Never prints or keeps what it gets."""
    import json
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    region = _region()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SSM") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        base = endpoint.rstrip("/")
    else:
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        base = f"https://ssm.{region}.{suffix}"
    parts = urlsplit(base)
    path = parts.path or "/"
    body = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM." + target}
    try:
        keys = CREDENTIALS.get()
    except S3Error as e:
        raise SecretsError(str(e)) from None
    sha = hashlib.sha256(body).hexdigest()
    headers.update(sign("POST", parts.netloc, path, headers, sha, keys, region, time.gmtime(), service="ssm"))
    req = urllib.request.Request(f"{parts.scheme}://{parts.netloc}{path}", data=body, method="POST", headers=headers)
    try:
        with _urlopen(req, timeout=30) as r:
            return json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        try:
            error = json.loads(e.read().decode("utf-8"))
        except ValueError:
            error = {}
        code = str(error.get("__type", "")).rsplit("#", 1)[-1] or f"HTTP {e.code}"
        text = error.get("message") or error.get("Message") or ""
        raise SecretsError(f"{code}: {text}".strip(": "), denied=code == "AccessDeniedException") from None
    except (OSError, ValueError) as e:
        raise SecretsError(str(e)) from None


def _values_of(answer, wanted):
    found = {p.get("Name"): p.get("Value") for p in answer.get("Parameters", [])}
    missing = [n for n in wanted if not isinstance(found.get(n), str)]
    if missing:
        names = ", ".join(n.rsplit("/", 1)[-1] for n in missing)
        raise SecretsError(f"{names}: not in Parameter Store (the run's secrets were deleted?)")
    return {n: found[n] for n in wanted}


def read_secrets(path, names):
    """{NAME: value} of the run's parameters <path>/<NAME>, ten names per
    GetParameters call (AWS's most), decrypted. The AWS CLI is tried when
    the helper's own call fails for another reason than a refusal."""
    import json
    import subprocess

    wanted = [f"{path.rstrip('/')}/{n}" for n in names]
    values = {}
    for i in range(0, len(wanted), 10):
        chunk = wanted[i : i + 10]
        try:
            answer = ssm_call("GetParameters", {"Names": chunk, "WithDecryption": True})
        except SecretsError as e:
            if e.denied:
                raise
            cli = ["aws", "ssm", "get-parameters", "--with-decryption", "--output", "json", "--names", *chunk]
            try:
                done = subprocess.run(cli, capture_output=True, check=False)
            except OSError as cli_error:
                raise SecretsError(f"{e}; aws: {cli_error}") from None
            if done.returncode != 0:
                why = done.stderr.decode("utf-8", "replace").strip()[-300:]
                raise SecretsError(f"{e}; aws: {why}") from None
            try:
                answer = json.loads(done.stdout.decode("utf-8"))
            except ValueError:
                raise SecretsError(f"{e}; aws: an answer that is not JSON") from None
        values.update(_values_of(answer, chunk))
    return {full.rsplit("/", 1)[-1]: value for full, value in values.items()}


def cmd_secrets_exec(argv):
    """secrets-exec PATH NAME,NAME -- COMMAND ARGS...: reads the secrets and
    becomes COMMAND (same process id: a stop signal reaches it) with each
    secret in its environment under its name. A value is never printed,
    written to a file or passed as an argument. 81: not read (why on stderr)."""
    path, names = argv[0], [n for n in argv[1].split(",") if n]
    cmd = argv[argv.index("--") + 1 :]
    try:
        values = read_secrets(path, names)
    except SecretsError as e:
        print(
            f"easytdv: could not read the run's secrets ({', '.join(names)}) from Parameter Store: {e}",
            file=sys.stderr,
        )
        return SECRETS_UNREADABLE
    env = {k: v for k, v in os.environ.items() if k not in ("EASYTDV_SECRETS_PATH", "EASYTDV_SECRET_NAMES")}
    env.update(values)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(cmd[0], cmd, env)
    return 127  # (execvpe does not return)


# --- The project: the run's manifest materialised, every blob checked ------------
INCOMING = ".easytdv-incoming"  # downloads in progress, in the destination: no listed file goes there
REFUSED = 82  # the manifest or a blob is not what the app sent: nothing of it is used
MANIFEST_MAX = 64 << 20


class Refused(Exception):
    pass


def safe_path(path):
    """What the app's manifest may name (src-tauri/core/src/project/manifest.rs):
    relative, '/'-separated, no empty, '.' or '..' part, no NUL, backslash or
    control character, at most 1024 bytes."""
    return (
        isinstance(path, str)
        and 0 < len(path.encode("utf-8", "surrogatepass")) <= 1024
        and not path.startswith("/")
        and not any(c in path for c in "\\\0")
        and not any(ord(c) < 32 or ord(c) == 127 for c in path)
        and all(part not in ("", ".", "..") for part in path.split("/"))
    )


def read_manifest(data, want):
    import json
    import re

    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise Refused(f"is not the manifest easyTDV sent (SHA-256 {got}, expected {want})")
    try:
        m = json.loads(data.decode("utf-8"))
        files, entry = m["files"], m["entry"]
        if m.get("format") != 1 or not isinstance(files, list):
            raise ValueError("format")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise Refused(f"cannot be read ({e})") from None
    seen = set()
    for f in files:
        path, sha = f.get("path"), f.get("sha256")
        if not safe_path(path) or path in seen or path.split("/")[0] == INCOMING:
            raise Refused(f"names a path that is not inside the project: {path!r}")
        if not isinstance(sha, str) or not re.match(r"^[0-9a-f]{64}$", sha):
            raise Refused(f"gives {path} no valid SHA-256")
        if not isinstance(f.get("size"), int) or f["size"] < 0:
            raise Refused(f"gives {path} no valid size")
        seen.add(path)
    if entry not in seen:
        raise Refused(f"does not list its entry script {entry!r}")
    return m


def _real_dir(path):
    """path as a real folder (a link or a file in its place is removed first)."""
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        os.mkdir(path, 0o755)
        return
    if stat.S_ISDIR(st.st_mode):
        return
    os.unlink(path)  # a link (never followed) or a file where a folder goes
    os.mkdir(path, 0o755)


def _place(dest, rel):
    """The file's full path under dest, every folder on the way made real (a
    link planted on the way is never written through)."""
    import shutil
    import stat

    parts = rel.split("/")
    here = dest
    for part in parts[:-1]:
        here = os.path.join(here, part)
        _real_dir(here)
    target = os.path.join(here, parts[-1])
    try:
        st = os.lstat(target)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(target)
    except FileNotFoundError:
        pass
    return target


def _fetch_blob(bucket, sha, out_path):
    """GET easytdv/blobs/<sha> into out_path, checking its SHA-256 as it comes."""
    import subprocess

    key = f"easytdv/blobs/{sha}"
    digest = hashlib.sha256()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        with s3_request("GET", bucket, key) as r, os.fdopen(os.open(out_path, flags, 0o600), "wb") as out:
            for block in iter(lambda: r.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except S3Error as e:
        if e.status in (403, 404):
            raise
        # The AWS CLI may get through where the helper could not (a proxy it knows).
        try:
            os.unlink(out_path)
        except FileNotFoundError:
            pass
        cli = ["aws", "s3api", "get-object", "--bucket", bucket, "--key", key]
        owner = os.environ.get("EASYTDV_BUCKET_OWNER")
        if owner:
            cli += ["--expected-bucket-owner", owner]
        if subprocess.run(cli + [out_path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode != 0:
            raise
        digest = hashlib.sha256()
        with open(out_path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


# --- What a materialise keeps between tries (project and data alike) --------------
def _load_state(state_path):
    """{path: [identity, size, mtime_ns]} of the files last written, or {}."""
    import json

    try:
        with open(state_path, encoding="utf-8") as f:
            state = json.load(f)
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_state(state_path, keep):
    import json

    with open(state_path + ".tmp", "w", encoding="utf-8") as out:
        json.dump(keep, out)
    os.replace(state_path + ".tmp", state_path)


def _sort_out(dest, state, wanted, ident):
    """Removes the files of the last manifest that are gone from `wanted`
    (nothing else in dest is touched); returns (keep, todo): the state entries
    of the files still there as last written, and the files to fetch."""
    import stat

    for path in sorted(set(state) - set(wanted)):
        if safe_path(path):
            try:
                full = os.path.join(dest, path)
                if stat.S_ISREG(os.lstat(full).st_mode):
                    os.unlink(full)
            except OSError:
                pass
    keep, todo = {}, []
    for path, f in wanted.items():
        old = state.get(path)
        try:
            st = os.lstat(os.path.join(dest, path))
            same = (
                isinstance(old, list)
                and old[0] == ident(f)
                and stat.S_ISREG(st.st_mode)
                and [st.st_size, st.st_mtime_ns] == old[1:3]
            )
        except OSError:
            same = False
        if same:
            keep[path] = old
        else:
            todo.append(f)
    return keep, todo


def _fresh_incoming(dest):
    """The downloads folder in dest, empty (a link or file in its place removed)."""
    import shutil

    tmp = os.path.join(dest, INCOMING)
    shutil.rmtree(tmp, ignore_errors=True)
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.mkdir(tmp, 0o700)
    return tmp


def _fetch_manifest(url, want, reader, what, refused):
    """The run's manifest at `url`, read and checked against its SHA-256 `want`
    by `reader`: (manifest, None), or (None, the exit code) once said why
    (`refused` when it is not what the app sent, 4 missing or denied, 1 else)."""
    bucket, key = split_s3(url)
    try:
        with s3_request("GET", bucket, key) as r:
            data = r.read(MANIFEST_MAX + 1)
        return reader(data, want), None
    except Refused as e:
        print(f"easytdv: {url} {e}: the {what} was not used", file=sys.stderr)
        return None, refused
    except (S3Error, OSError) as e:
        _say_error(f"could not download the {what}'s manifest {url}", e)
        return None, 4 if getattr(e, "status", 0) in (403, 404) else 1


def cmd_materialise(argv):
    """materialise s3://bucket/<run>/project.json SHA256 DEST STATE: the project
    in DEST as the manifest says. A file already there as last written (size and
    time in STATE) is kept; a file of the last manifest that is no longer listed
    is removed (nothing else in DEST is touched: what the script wrote stays).
    Blobs come 16 at a time, each checked against its SHA-256 before it is used.
    0 done; 82 the manifest or a blob is not what the app sent (nothing used);
    4 a blob is missing; 1 another failure."""
    import shutil

    url, want, dest, state_path = argv
    bucket, _ = split_s3(url)
    started = time.monotonic()
    m, failed = _fetch_manifest(url, want, read_manifest, "project", REFUSED)
    if m is None:
        return failed
    _real_dir(dest)
    wanted = {f["path"]: f for f in m["files"]}
    keep, stale = _sort_out(dest, _load_state(state_path), wanted, lambda f: f["sha256"])
    todo = {}
    for f in stale:
        todo.setdefault(f["sha256"], []).append(f)
    tmp = _fresh_incoming(dest)
    problems = []

    def one(sha):
        part = os.path.join(tmp, sha)
        try:
            got = _fetch_blob(bucket, sha, part)
        except (S3Error, OSError) as e:
            problems.append((4 if getattr(e, "status", 0) in (403, 404) else 1, f"{todo[sha][0]['path']}: {e}"))
            return
        if got != sha:
            problems.append(
                (
                    REFUSED,
                    f"s3://{bucket}/easytdv/blobs/{sha} (for {todo[sha][0]['path']}) is not the file easyTDV sent "
                    f"(SHA-256 {got})",
                )
            )
            os.unlink(part)

    _parallel(one, sorted(todo), workers=16)
    refused = [p for p in problems if p[0] == REFUSED]
    if problems:
        shutil.rmtree(tmp, ignore_errors=True)
        for code, text in refused or problems:
            what = "easytdv: refused " if code == REFUSED else "easytdv: could not download "
            print(what + text, file=sys.stderr)
        if refused:
            print("easytdv: the project was not used", file=sys.stderr)
        return REFUSED if refused else max(p[0] for p in problems)
    fetched = 0
    for sha, files in todo.items():
        src = os.path.join(tmp, sha)
        fetched += files[0]["size"]
        for i, f in enumerate(files):
            target = _place(dest, f["path"])
            if i + 1 < len(files):
                shutil.copyfile(src, target + ".easytdv-part", follow_symlinks=False)
                os.replace(target + ".easytdv-part", target)
            else:
                os.replace(src, target)
            os.chmod(target, 0o755 if f.get("mode") == 0o755 else 0o644)
            st = os.lstat(target)
            keep[f["path"]] = [f["sha256"], st.st_size, st.st_mtime_ns]
    shutil.rmtree(tmp, ignore_errors=True)
    _save_state(state_path, keep)
    n = sum(len(v) for v in todo.values())
    print(f"easytdv: project {len(wanted)} files, {n} fetched ({fetched} bytes) in {time.monotonic() - started:.2f} s")
    return 0


# --- The run's data: its manifest downloaded into $DATA_DIR, every file checked --
DATA_REFUSED = 83  # the data manifest or a file is not what the app sent: the training does not start


def read_data_manifest(data, want):
    import re

    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise Refused(f"is not the data manifest easyTDV sent (SHA-256 {got}, expected {want})")
    try:
        import json

        m = json.loads(data.decode("utf-8"))
        files = m["files"]
        if m.get("format") != 1 or not isinstance(files, list):
            raise ValueError("format")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise Refused(f"cannot be read ({e})") from None
    seen = set()
    for f in files:
        path, sha, url = f.get("path"), f.get("sha256"), f.get("url")
        if not safe_path(path) or path in seen or path.split("/")[0] == INCOMING:
            raise Refused(f"names a path that is not inside the data folder: {path!r}")
        if not isinstance(f.get("size"), int) or f["size"] < 0:
            raise Refused(f"gives {path} no valid size")
        if sha is not None and not (isinstance(sha, str) and re.match(r"^[0-9a-f]{64}$", sha)):
            raise Refused(f"gives {path} no valid SHA-256")
        if sha is None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
            raise Refused(f"gives {path} neither a SHA-256 nor a URL")
        seen.add(path)
    return m


def _fetch_url(url, out_path, size, etag, version=None):
    """GET a presigned URL into out_path; its size must be `size`, and its
    MD5 the ETag when S3 says the ETag is one (no KMS or customer key). With
    `version` (the ETag S3 listed) S3 answers only that version (If-Match):
    an object replaced since, even by one of the same size, is refused."""
    import urllib.error
    import urllib.request

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    md5, got = hashlib.md5(), 0
    headers = {"If-Match": f'"{version}"'} if version else {}
    try:
        request = urllib.request.Request(url, headers=headers)
        with _urlopen(request, 60) as r, os.fdopen(os.open(out_path, flags, 0o600), "wb") as out:
            sse = (r.headers.get("x-amz-server-side-encryption") or "").lower()
            customer = r.headers.get("x-amz-server-side-encryption-customer-algorithm")
            for block in iter(lambda: r.read(1 << 20), b""):
                md5.update(block)
                got += len(block)
                out.write(block)
    except urllib.error.HTTPError as e:
        if e.code == 412:
            return "replaced in S3 since the run listed it: start the run again to use the new version"
        raise S3Error(e.code, f"HTTP {e.code} {e.reason}") from None
    if got != size:
        return f"{got} bytes, not the {size} S3 listed"
    if etag and sse in ("", "aes256") and not customer and md5.hexdigest() != etag:
        return f"MD5 {md5.hexdigest()}, not its ETag {etag}"
    return None


def cmd_data(argv):
    """data s3://bucket/<run>/data.json SHA256 DEST STATE: the run's data in
    DEST as its manifest says, 16 files at a time: a blob of the run's bucket
    checked by its SHA-256, or a presigned URL checked by size (and MD5 where
    S3's ETag is one). A file already there as last written (STATE) is kept;
    files no longer listed are removed. 0 done; 83 the manifest or a file is
    not what the app sent; 4 a file is missing or refused; 1 another failure."""
    import shutil

    url, want, dest, state_path = argv
    bucket, _ = split_s3(url)
    started = time.monotonic()
    m, failed = _fetch_manifest(url, want, read_data_manifest, "data", DATA_REFUSED)
    if m is None:
        return failed
    _real_dir(dest)

    def ident(f):
        return f.get("sha256") or f"{f['size']}:{f.get('version') or f.get('etag') or ''}:{f['path']}"

    wanted = {f["path"]: f for f in m["files"]}
    keep, todo = _sort_out(dest, _load_state(state_path), wanted, ident)
    tmp = _fresh_incoming(dest)
    problems = []

    def one(item):
        i, f = item
        part = os.path.join(tmp, str(i))
        try:
            if f.get("sha256"):
                got = _fetch_blob(bucket, f["sha256"], part)
                wrong = None if got == f["sha256"] else f"SHA-256 {got}"
            else:
                wrong = _fetch_url(f["url"], part, f["size"], f.get("etag"), f.get("version"))
        except (S3Error, OSError) as e:
            problems.append((4 if getattr(e, "status", 0) in (403, 404) else 1, f"{f['path']}: {e}"))
            return
        except Exception as e:  # a cut connection (http.client.IncompleteRead…): told, never a crash
            problems.append((1, f"{f['path']}: {type(e).__name__}: {e}"))
            return
        if wrong:
            problems.append((DATA_REFUSED, f"{f['path']} is not the file easyTDV listed ({wrong})"))

    _parallel(one, list(enumerate(todo)), workers=16)
    if problems:
        shutil.rmtree(tmp, ignore_errors=True)
        refused = [p for p in problems if p[0] == DATA_REFUSED]
        for code, text in (refused or problems)[:20]:
            what = "easytdv: refused " if code == DATA_REFUSED else "easytdv: could not download "
            print(what + text, file=sys.stderr)
        return DATA_REFUSED if refused else max(p[0] for p in problems)
    fetched = 0
    for i, f in enumerate(todo):
        target = _place(dest, f["path"])
        os.replace(os.path.join(tmp, str(i)), target)
        os.chmod(target, 0o644)
        st = os.lstat(target)
        keep[f["path"]] = [ident(f), st.st_size, st.st_mtime_ns]
        fetched += f["size"]
    shutil.rmtree(tmp, ignore_errors=True)
    _save_state(state_path, keep)
    print(
        f"easytdv: data {len(wanted)} file{'' if len(wanted) == 1 else 's'}, {len(todo)} fetched ({fetched} bytes) "
        f"in {time.monotonic() - started:.2f} s"
    )
    return 0


def ship_gap(interval, ran):
    """Seconds until the next log upload: `interval` in the first minutes (the
    user watches whether it works), then growing to at most 10 s after 10
    minutes (fewer S3 PUTs: one every 10 s is 3,600 for a 10-hour run,
    about $0.02)."""
    return max(interval, min(10.0, ran / 60.0))


def cmd_run(argv):
    import selectors
    import signal
    import subprocess

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
        )
        interval = max(0.05, float(opts.get("interval") or 2))
        started = time.monotonic()

        def loop():
            while not stop.wait(ship_gap(interval, time.monotonic() - started)):
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
    """pip's requirements format as the app's cache key sees it (src-tauri/core/src/
    environments/key.rs does the same): comments, blank lines and
    surrounding whitespace dropped, runs of spaces made one, continuation lines
    joined; the order is kept (uv gives earlier requirements priority)."""
    import re

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


def cmd_reqs(argv):
    lines = normalised_requirements(argv[0])
    with open(argv[1], "w", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))
    print(len(lines))
    return 0


def cmd_meta(argv):
    import json
    import re

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
    if argv[0] == "sized":  # sized SRC SIZE SHA256 OUT: the same description, with the archive's size and digest
        with open(argv[1], encoding="utf-8") as f:
            meta = json.load(f)
        meta["size"], meta["sha256"] = int(argv[2]), argv[3]
        with open(argv[4], "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        return 0
    # read: print "<archive> <created> <python>"; exit 1 when unreadable
    try:
        with open(argv[1], encoding="utf-8") as f:
            meta = json.load(f)
        archive, created, python = meta["archive"], meta["created"], meta["python"]
        if not re.match(r"^[0-9]+\.[0-9]+\.[0-9]+$", python):
            raise ValueError(python)
        if not re.match(r"^[0-9a-f]{64}\.tar\.(zst|gz)$", archive) or not archive.startswith(argv[2]):
            raise ValueError(archive)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"unreadable sidecar: {e}", file=sys.stderr)
        return 1
    print(archive, created, python)
    return 0


def cmd_uv(argv):
    """uv VERSION DEST_DIR INDEX_URL ARCH SHA256: the manylinux wheel for ARCH,
    checked against SHA256 (what the app ships: a checksum read from the same
    PyPI answer would vouch for nothing), its uv binary unpacked to DEST_DIR/uv."""
    import json
    import urllib.request

    version, dest, index, arch, want = argv
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
        return _unpack_uv(version, dest, wheels[0], want)
    except Exception as e:  # noqa: BLE001
        print("{}: {}".format(wheels[0]["url"], e), file=sys.stderr)
        return 1


def _unpack_uv(version, dest, wheel, want):
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
    if digest.hexdigest() != want:
        os.unlink(tmp)
        print(
            "{} is not the uv wheel easyTDV knows (SHA-256 {}, expected {}): not used".format(
                wheel["filename"], digest.hexdigest(), want
            ),
            file=sys.stderr,
        )
        return 1
    member = f"uv-{version}.data/scripts/uv"
    import zipfile

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


def cmd_digest(argv):
    """digest OUT: stdin to stdout as it comes; at the end "<sha256> <bytes>" in
    OUT. 5 when the reader stopped (nothing written to OUT), 1 another failure."""
    digest, size = hashlib.sha256(), 0
    src, out = sys.stdin.buffer, sys.stdout.buffer
    try:
        while True:
            block = src.read1(1 << 20) if hasattr(src, "read1") else src.read(1 << 20)
            if not block:
                break
            digest.update(block)
            size += len(block)
            out.write(block)
        out.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 5
    except OSError as e:
        _say_error("could not pass the archive on", e)
        return 1
    with open(argv[0], "w", encoding="utf-8") as f:
        f.write(f"{digest.hexdigest()} {size}\n")
    return 0


def cmd_sha256(argv):
    digest = hashlib.sha256()
    with open(argv[0], "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    print(digest.hexdigest())
    return 0


def cmd_report(argv):
    import json

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


def cmd_nbfail(argv):
    """The cell papermill marked as failed, counted as the person sees their
    notebook (papermill's own cells left out), and where the executed one is."""
    import json

    with open(argv[0], encoding="utf-8") as f:
        cells = json.load(f).get("cells", [])
    ours = ("injected-parameters", "papermill-error-cell-tag")
    theirs = [c for c in cells if not set(c.get("metadata", {}).get("tags", [])) & set(ours)]
    for n, cell in enumerate(theirs, 1):
        if cell.get("metadata", {}).get("papermill", {}).get("status") != "failed":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        first = next((line.strip() for line in source.splitlines() if line.strip()), "")
        if len(first) > 60:
            first = first[:59] + "\u2026"
        count = cell.get("execution_count")
        at = f"In [{count}], " if count is not None else ""
        print(
            f'The notebook stopped at cell {n} of {len(theirs)} ({at}"{first}"). '
            f"The executed notebook, with the outputs up to the error, is {argv[1]}"
        )
        return 0
    print(f"The notebook did not finish; the executed notebook, with the outputs so far, is {argv[1]}")
    return 0


def main(argv):
    commands = {
        "run": cmd_run,
        "reqs": cmd_reqs,
        "meta": cmd_meta,
        "digest": cmd_digest,
        "sha256": cmd_sha256,
        "uv": cmd_uv,
        "report": cmd_report,
        "nbfail": cmd_nbfail,
        "get": cmd_get,
        "cat": cmd_cat,
        "put": cmd_put,
        "putdir": cmd_putdir,
        "secrets-exec": cmd_secrets_exec,
        "materialise": cmd_materialise,
        "data": cmd_data,
    }
    if not argv or argv[0] == "check":
        return 0 if sys.version_info >= (3, 8) else 1
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
