"""A fake S3 endpoint for the instance-script tests: what the helper's own S3
client (GET and PUT of one object) talks to, over the same folders as the fake
AWS CLI ($FAKE_S3_ROOT/<bucket>/<key>), with the same records (.calls, .puts,
.gets) so tests count round trips whichever tool made them.

Every request's Signature Version 4 is recomputed with botocore's signer (what
AWS's SDKs use) and a mismatch is refused like S3 does (403
SignatureDoesNotMatch): every test that moves a file checks the helper's signing.

One server serves every fake instance: the access key id names the instance's
folder. Every bucket belongs to account 123456789012: a request whose
x-amz-expected-bucket-owner names another is refused (403 AccessDenied, as S3
does), and each request's expected owner ("-" when none) is noted in .owners.
Failure switches, written by Instance.run to <root>/.fail: "put <key prefix>"
(PUTs below it fail), "get <key prefix>" (GETs below it are denied: 403
AccessDenied) and "sync" (PUTs of outputs fail, log chunks do not).
"""

from __future__ import annotations

import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SECRET = "fake-instance-secret"
OWNER = "123456789012"
TOKEN = "fake-session-token"
ROOTS: dict[str, str] = {}  # access key id -> FAKE_S3_ROOT
LOG_CHUNK = re.compile(r"/outputs/_logs/[a-z]+/\d{6}\.log$")
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
    r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})"
)


def expected_signature(method: str, url: str, headers: dict[str, str], signed: list[str], region: str) -> str:
    """The signature botocore computes for this request and these signed headers."""
    request = AWSRequest(method=method, url=url, headers={n: headers[n] for n in signed if n != "host"})
    request.context["timestamp"] = headers["x-amz-date"]
    auth = S3SigV4Auth(Credentials("unused", SECRET, headers.get("x-amz-security-token")), "s3", region)
    # botocore puts the host header in from the URL; the rest are as sent.
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _fail(self, status: int, code: str, message: str = "") -> None:
        body = f"<Error><Code>{code}</Code><Message>{message or code}</Message></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorise(self):
        headers = {k.lower(): v for k, v in self.headers.items()}
        m = _AUTH.fullmatch(headers.get("authorization", ""))
        if not m or m.group(1) not in ROOTS:
            return None
        access, _, region, signed, signature = m.groups()
        url = f"http://{headers['host']}{self.path}"
        try:
            want = expected_signature(self.command, url, headers, signed.split(";"), region)
        except KeyError:
            return None
        if want != signature:
            return None
        return ROOTS[access]

    def _target(self):
        root = self._authorise()
        if root is None:
            self._fail(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
            return None
        path = unquote(urlsplit(self.path).path).lstrip("/")
        bucket, _, key = path.partition("/")
        owner = self.headers.get("x-amz-expected-bucket-owner")
        note(root, ".owners", f"{self.command} {key} {owner or '-'}")
        if owner is not None and owner != OWNER:
            self._fail(403, "AccessDenied", "Access Denied")
            return None
        return root, bucket, key

    def do_GET(self):
        target = self._target()
        if target is None:
            return
        root, bucket, key = target
        note(root, ".calls", f"helper GET s3://{bucket}/{key}")
        full = os.path.join(root, bucket, key)
        if failing(root, key, "get"):
            self._fail(403, "AccessDenied", "Access Denied")
            return
        if not os.path.isfile(full):
            self._fail(404, "NoSuchKey", "The specified key does not exist.")
            return
        with open(full, "rb") as f:
            data = f.read()
        note(root, ".gets", key)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        target = self._target()
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if target is None:
            return
        root, bucket, key = target
        note(root, ".calls", f"helper PUT s3://{bucket}/{key}")
        if failing(root, key, "put"):
            self._fail(403, "AccessDenied", "Access Denied")
            return
        full = os.path.join(root, bucket, key)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        note(root, ".puts", f"{key} {len(data)}")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def note(root: str, name: str, line: str) -> None:
    with open(os.path.join(root, name), "a") as f:
        f.write(line + "\n")


def failing(root: str, key: str, verb: str) -> bool:
    try:
        with open(os.path.join(root, ".fail")) as f:
            rules = f.read().splitlines()
    except FileNotFoundError:
        return False
    for rule in rules:
        kind, _, arg = rule.partition(" ")
        if kind == verb and key.startswith(arg):
            return True
        if kind == "sync" and verb == "put" and "/outputs/" in "/" + key and not LOG_CHUNK.search("/" + key):
            return True
    return False


_SERVER: ThreadingHTTPServer | None = None
_LOCK = threading.Lock()


def endpoint() -> str:
    """The server's address (started on first use, for the whole test session)."""
    global _SERVER
    with _LOCK:
        if _SERVER is None:
            _SERVER = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            _SERVER.daemon_threads = True
            threading.Thread(target=_SERVER.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{_SERVER.server_address[1]}"


def register(root: str) -> str:
    """An access key id that names `root`."""
    with _LOCK:
        access = f"FAKE{len(ROOTS):08d}"
        ROOTS[access] = root
        return access
