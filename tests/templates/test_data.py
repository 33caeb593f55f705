"""The run's data on the machine: train.sh downloads <prefix>/data.json's files
(checked against EASYTDV_DATA_SHA256) into $DATA_DIR before the training, 16 at
a time: blobs checked by SHA-256, presigned URLs of the person's S3 data checked
by size and by MD5 where S3's ETag is one. A file that is not what was listed,
or a path out of the folder, is refused (exit 83) and the script never runs;
a retry fetches only what changed; a data folder inside the project is also
linked at its place there."""

import hashlib
import http.server
import json
import threading

import pytest
from tpl_helpers import BUCKET, TRAIN


class Files(http.server.ThreadingHTTPServer):
    """Presigned URLs' stand-in: path -> (body, extra headers); records GETs."""

    def __init__(self):
        self.files, self.gets = {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.gets.append(self.path)
                body, headers = server.files.get(self.path.split("?")[0], (None, {}))
                if body is None:
                    self.send_response(403)
                    self.end_headers()
                    return
                wanted = self.headers.get("If-Match")
                if wanted and wanted != headers.get("ETag"):
                    self.send_response(412)  # S3: PreconditionFailed
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path, body, headers=None):
        self.files[path] = (body, headers or {})
        return f"http://127.0.0.1:{self.server_address[1]}{path}?X-Amz-Signature=abc"


@pytest.fixture(scope="module")
def files():
    server = Files()
    yield server
    server.shutdown()


def blob(inst, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    path = inst.s3 / BUCKET / "easytdv" / "blobs" / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha


def send(inst, listed) -> str:
    manifest = json.dumps({"format": 1, "source": "test", "files": listed}).encode()
    (inst.inputs / "data.json").write_bytes(manifest)
    return hashlib.sha256(manifest).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_the_data_comes_down_checked_and_a_retry_fetches_only_what_changed(installed, files):
    a, b = b"x,y\n1,2\n", bytes(range(256)) * 100
    listed = [
        {"path": "points.csv", "size": len(a), "sha256": blob(installed, a)},
        {"path": "shards/b.bin", "size": len(b), "url": files.url("/lake/b.bin", b), "etag": md5(b)},
    ]
    sha = send(installed, listed)
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256=sha)
    assert result.returncode == 0, result.stdout + result.stderr
    data = installed.home / "data"
    assert (data / "points.csv").read_bytes() == a
    assert (data / "shards" / "b.bin").read_bytes() == b
    assert "easytdv: data 2 files, 2 fetched" in result.stdout
    # Nothing changed: nothing fetched again; a changed file is.
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256=sha)
    assert "easytdv: data 2 files, 0 fetched" in result.stdout, result.stdout + result.stderr
    a2 = b"x,y\n3,4\n"
    listed[0] = {"path": "points.csv", "size": len(a2), "sha256": blob(installed, a2)}
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256=send(installed, listed))
    assert "easytdv: data 2 files, 1 fetched" in result.stdout, result.stdout + result.stderr
    assert (data / "points.csv").read_bytes() == a2


@pytest.mark.parametrize(
    "served, headers, why",
    [
        (b"x\n1\n2\n", {}, "bytes, not the 4 S3 listed"),
        (b"x\n9\n", {}, "not its ETag"),
    ],
)
def test_a_file_that_is_not_what_s3_listed_is_refused_and_train_py_never_runs(installed, files, served, headers, why):
    listed = [{"path": "a.csv", "size": 4, "url": files.url(f"/lake/{len(served)}", served), "etag": md5(b"x\n1\n")}]
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256=send(installed, listed))
    assert result.returncode == 83, result.stdout + result.stderr
    assert why in result.stderr
    assert "the run's data is not what easyTDV listed" in result.stderr
    assert "training started" not in result.stdout
    assert "X-Amz-Signature" not in result.stdout + result.stderr, "a presigned URL is never printed"


def test_an_etag_that_is_not_an_md5_is_not_compared(installed, files):
    body = b"x\n5\n"
    url = files.url("/lake/kms.csv", body, {"x-amz-server-side-encryption": "aws:kms"})
    listed = [{"path": "kms.csv", "size": 4, "url": url, "etag": "0" * 32}]
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256=send(installed, listed))
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_object_replaced_by_one_of_the_same_size_is_fetched_again_and_never_mixed(installed, files):
    # A multipart upload's ETag is not an MD5: only the version (the ETag S3
    # listed) tells the two apart.
    old, new = b"a" * 64, b"b" * 64
    url = files.url("/lake/parts.bin", old, {"ETag": '"0f1e-2"'})
    listed = [{"path": "parts.bin", "size": 64, "url": url, "version": "0f1e-2"}]
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256=send(installed, listed))
    assert result.returncode == 0, result.stdout + result.stderr
    files.url("/lake/parts.bin", new, {"ETag": '"9a8b-2"'})
    listed[0]["version"] = "9a8b-2"
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256=send(installed, listed))
    assert "easytdv: data 1 file, 1 fetched" in result.stdout, result.stdout + result.stderr
    assert (installed.home / "data" / "parts.bin").read_bytes() == new
    # Replaced again after the listing: S3 refuses the listed version (412), the run stops.
    files.url("/lake/parts.bin", old, {"ETag": '"7c6d-2"'})
    listed[0]["version"] = "7c6d-3-listed-before"
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256=send(installed, listed))
    assert result.returncode == 83, result.stdout + result.stderr
    assert "replaced in S3 since the run listed it" in result.stderr
    assert "training started" not in result.stdout


@pytest.mark.parametrize("evil", ["../escape.txt", "/etc/easytdv-test", "a/../../x", "a//b", ".easytdv-incoming/0"])
def test_a_path_out_of_the_data_folder_is_refused(installed, evil):
    listed = [{"path": evil, "size": 1, "sha256": blob(installed, b"x")}]
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256=send(installed, listed))
    assert result.returncode == 83, result.stdout + result.stderr
    assert "names a path that is not inside the data folder" in result.stderr
    assert not (installed.home / "escape.txt").exists()


def test_a_manifest_that_is_not_the_one_sent_is_refused(installed):
    send(installed, [])
    result = installed.run(TRAIN, EASYTDV_DATA_SHA256="0" * 64)
    assert result.returncode == 83, result.stdout + result.stderr
    assert "is not the data manifest easyTDV sent" in result.stderr
