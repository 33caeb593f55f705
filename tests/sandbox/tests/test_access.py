"""Only the sandbox's owner can use it (access.py): the attacks of issue 20, item 2,
and the IAM rules of iam_rules.py (a role's permissions boundary must exist)."""

import hashlib
import hmac
import http.client
import json
import secrets
from urllib.parse import urlsplit

import botocore.exceptions
import pytest

from conftest import HOOK_HEADERS, KEY, client, derived


def raw(endpoint: str, method: str, path: str, headers: dict | None = None, body: bytes = b""):
    """One HTTP request exactly as given (no SDK adds or fixes headers)."""
    host = urlsplit(endpoint).netloc
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in {"Host": host, **(headers or {})}.items():
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    out = resp.status, dict(resp.getheaders()), resp.read()
    conn.close()
    return out


def signed_headers(key: str) -> dict:
    cred = f"{key}/20261206/eu-west-3/s3/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=00",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": "20261206T000000Z"}  # fmt: skip


def bucket_exists(endpoint: str, name: str) -> bool:
    return name in [b["Name"] for b in client(endpoint, "s3").list_buckets()["Buckets"]]


def test_a_web_page_is_refused(endpoint):
    name = f"evil-{secrets.token_hex(4)}"
    # Even with the right key (a page cannot know it, but the Origin alone must be enough).
    status, headers, body = raw(endpoint, "PUT", f"/{name}", {**signed_headers(KEY), "Origin": "https://evil.example"})
    assert status == 403 and b"AccessDenied" in body
    assert not bucket_exists(endpoint, name)
    # A CORS preflight gets no permission to read anything.
    status, headers, _ = raw(endpoint, "OPTIONS", f"/{name}", {"Origin": "https://evil.example",
                                                             "Access-Control-Request-Method": "PUT"})  # fmt: skip
    assert status == 403
    assert not any(h.lower().startswith("access-control-") for h in headers)


def test_a_wrong_host_is_refused(endpoint):
    """DNS rebinding: a page's own name pointed at 127.0.0.1 arrives as its Host."""
    name = f"rebind-{secrets.token_hex(4)}"
    port = urlsplit(endpoint).port
    for host in (f"evil.example:{port}", f"localhost.evil.example:{port}", f"127.0.0.1.nip.io:{port}", ""):
        status, _, _ = raw(endpoint, "PUT", f"/{name}", {**signed_headers(KEY), "Host": host})
        assert status == 403, host
    assert not bucket_exists(endpoint, name)


@pytest.mark.parametrize(
    "service,call,code",
    [
        ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId"),
        ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId"),
        ("ec2", lambda c: c.describe_instances(), "AuthFailure"),
        ("ssm", lambda c: c.describe_instance_information(), "UnrecognizedClientException"),
        ("lambda", lambda c: c.list_functions(), "UnrecognizedClientException"),
        ("cloudformation", lambda c: c.list_stacks(), "InvalidClientTokenId"),
    ],
)
def test_another_key_is_refused_in_aws_words(endpoint, service, call, code):
    forged = (f"instance-i-0123456789abcdef0.{KEY}", "instance-i-0123456789abcdef0." + "0" * 40, f"lambda-x.{KEY[:-1]}")
    for key in ("sandbox", "AKIAIOSFODNN7EXAMPLE", "lambda-easytdv-x", *forged):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(client(endpoint, service, key=key))
        assert e.value.response["Error"]["Code"] == code, (service, key)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unsigned_requests_and_the_admin_api_need_the_key(endpoint):
    assert raw(endpoint, "GET", "/")[0] == 403
    assert raw(endpoint, "GET", "/moto-api/data.json")[0] == 403
    assert raw(endpoint, "POST", "/moto-api/reset", {"X-Easytdv-Sandbox-Key": "guess"})[0] == 403
    assert raw(endpoint, "GET", "/easytdv-api/quotas")[0] == 403
    assert raw(endpoint, "GET", "/easytdv-api/quotas", HOOK_HEADERS)[0] == 200
    assert raw(endpoint, "GET", "/moto-api/data.json", HOOK_HEADERS)[0] == 200


def test_whoami_proves_the_key(endpoint):
    nonce = secrets.token_hex(16)
    status, _, body = raw(endpoint, "GET", f"/easytdv-api/whoami?nonce={nonce}")
    assert status == 200
    want = hmac.new(KEY.encode(), f"easytdv-sandbox:{nonce}".encode(), hashlib.sha256).hexdigest()
    assert json.loads(body)["proof"] == want
    assert raw(endpoint, "GET", "/easytdv-api/whoami?nonce=x")[0] == 400


def test_keys_its_own_iam_issued_work(endpoint):
    iam = client(endpoint, "iam")
    name = f"user-{secrets.token_hex(4)}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    who = client(endpoint, "sts", key=key["AccessKeyId"]).get_caller_identity()
    assert who["Arn"].endswith(f":user/{name}")
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(endpoint, "sts", key=key["AccessKeyId"]).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"


# --- iam_rules.py ---------------------------------------------------------------------------

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"Service": "ec2.amazonaws.com"}}]})  # fmt: skip


def test_a_role_needs_an_existing_boundary(endpoint):
    iam = client(endpoint, "iam")
    missing = "arn:aws:iam::123456789012:policy/not-there"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(
            RoleName=f"r-{secrets.token_hex(4)}", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=missing
        )
    err = e.value.response["Error"]
    assert err["Code"] == "NoSuchEntity"
    assert err["Message"] == f"Scope ARN: {missing} does not exist or is not attachable."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # The sandbox account is set up: its easyTDV boundary exists.
    ours = "arn:aws:iam::123456789012:policy/easytdv-boundary"
    role = iam.create_role(
        RoleName=f"r-{secrets.token_hex(4)}", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=ours
    )
    assert role["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == ours


def test_a_principals_key_names_it_and_does_not_reveal_the_sandboxs(endpoint):
    """What a Lambda or a training script holds cannot be turned into the app's key."""
    key = derived("instance-i-0123456789abcdef0")
    assert KEY not in key
    who = client(endpoint, "sts", key=key).get_caller_identity()
    assert who["Account"] == "123456789012"
