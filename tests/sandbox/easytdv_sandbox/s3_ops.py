"""S3 REST requests (path style, as SDKs send them to an endpoint override)
-> the API operation and the IAM action that authorizes it.

The IAM names follow AWS's "Required permissions for Amazon S3 API
operations" / "Actions, resources, and condition keys for Amazon S3": most
operations map one to one by name; these differ: ListObjects(V2) ->
s3:ListBucket, HeadObject -> s3:GetObject, HeadBucket -> s3:ListBucket,
ListBuckets -> s3:ListAllMyBuckets, PutBucketEncryption ->
s3:PutEncryptionConfiguration, GetBucketEncryption ->
s3:GetEncryptionConfiguration, Put/GetPublicAccessBlock ->
s3:Put/GetBucketPublicAccessBlock, DeleteObjects -> s3:DeleteObject,
multipart uploads -> s3:PutObject, ListObjectVersions -> s3:ListBucketVersions,
ListMultipartUploads -> s3:ListBucketMultipartUploads, ListParts ->
s3:ListMultipartUploadParts, Put/GetBucketLifecycleConfiguration ->
s3:Put/GetLifecycleConfiguration, DeletePublicAccessBlock ->
s3:PutBucketPublicAccessBlock, DeleteBucketEncryption ->
s3:PutEncryptionConfiguration, CopyObject -> s3:PutObject (plus s3:GetObject
on the source, recorded as `copy_source`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote


@dataclass
class S3Call:
    operation: str
    action: str  # IAM form, s3:...
    bucket: str | None
    key: str | None
    copy_source: str | None = None

    @property
    def resource(self) -> str:
        """The ARN IAM checks for this action."""
        if self.action == "s3:ListAllMyBuckets" or not self.bucket:
            return "*"
        if self.key is not None and self.action in OBJECT_ACTIONS:
            return f"arn:aws:s3:::{self.bucket}/{self.key}"
        return f"arn:aws:s3:::{self.bucket}"


OBJECT_ACTIONS = {
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:GetObjectTagging",
    "s3:PutObjectTagging",
    "s3:DeleteObjectTagging",
    "s3:GetObjectAcl",
    "s3:PutObjectAcl",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:GetObjectAttributes",
    "s3:RestoreObject",
}

# bucket sub-resource (query key) -> {method: (operation, IAM action)}
BUCKET_SUBRESOURCES = {
    "location": {"GET": ("GetBucketLocation", "s3:GetBucketLocation")},
    "policy": {
        "GET": ("GetBucketPolicy", "s3:GetBucketPolicy"),
        "PUT": ("PutBucketPolicy", "s3:PutBucketPolicy"),
        "DELETE": ("DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
    },
    "policyStatus": {"GET": ("GetBucketPolicyStatus", "s3:GetBucketPolicyStatus")},
    "publicAccessBlock": {
        "GET": ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
        "PUT": ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
        "DELETE": ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    },
    "encryption": {
        "GET": ("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
        "PUT": ("PutBucketEncryption", "s3:PutEncryptionConfiguration"),
        "DELETE": ("DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
    },
    "tagging": {
        "GET": ("GetBucketTagging", "s3:GetBucketTagging"),
        "PUT": ("PutBucketTagging", "s3:PutBucketTagging"),
        "DELETE": ("DeleteBucketTagging", "s3:PutBucketTagging"),
    },
    "versioning": {
        "GET": ("GetBucketVersioning", "s3:GetBucketVersioning"),
        "PUT": ("PutBucketVersioning", "s3:PutBucketVersioning"),
    },
    "acl": {"GET": ("GetBucketAcl", "s3:GetBucketAcl"), "PUT": ("PutBucketAcl", "s3:PutBucketAcl")},
    "lifecycle": {
        "GET": ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
        "PUT": ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
        "DELETE": ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    },
    "ownershipControls": {
        "GET": ("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"),
        "PUT": ("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
    },
    "cors": {"GET": ("GetBucketCors", "s3:GetBucketCORS"), "PUT": ("PutBucketCors", "s3:PutBucketCORS")},
    "versions": {"GET": ("ListObjectVersions", "s3:ListBucketVersions")},
    "uploads": {"GET": ("ListMultipartUploads", "s3:ListBucketMultipartUploads")},
    "delete": {"POST": ("DeleteObjects", "s3:DeleteObject")},
}

OBJECT_SUBRESOURCES = {
    "tagging": {
        "GET": ("GetObjectTagging", "s3:GetObjectTagging"),
        "PUT": ("PutObjectTagging", "s3:PutObjectTagging"),
        "DELETE": ("DeleteObjectTagging", "s3:DeleteObjectTagging"),
    },
    "acl": {"GET": ("GetObjectAcl", "s3:GetObjectAcl"), "PUT": ("PutObjectAcl", "s3:PutObjectAcl")},
    "attributes": {"GET": ("GetObjectAttributes", "s3:GetObjectAttributes")},
    "restore": {"POST": ("RestoreObject", "s3:RestoreObject")},
}


def parse(method: str, path: str, query: str, headers) -> S3Call:
    """One path-style S3 request. `headers` is a case-insensitive mapping."""
    method = method.upper()
    params = parse_qs(query, keep_blank_values=True)
    parts = path.lstrip("/").split("/", 1)
    bucket = unquote(parts[0]) or None
    key = unquote(parts[1]) if len(parts) > 1 and parts[1] != "" else None

    if bucket is None:
        return S3Call("ListBuckets", "s3:ListAllMyBuckets", None, None)
    if key is None:
        for sub, methods in BUCKET_SUBRESOURCES.items():
            if sub in params and method in methods:
                op, action = methods[method]
                return S3Call(op, action, bucket, None)
        if method == "GET":
            op = "ListObjectsV2" if params.get("list-type") == ["2"] else "ListObjects"
            return S3Call(op, "s3:ListBucket", bucket, None)
        if method == "HEAD":
            return S3Call("HeadBucket", "s3:ListBucket", bucket, None)
        if method == "PUT":
            return S3Call("CreateBucket", "s3:CreateBucket", bucket, None)
        if method == "DELETE":
            return S3Call("DeleteBucket", "s3:DeleteBucket", bucket, None)
        return S3Call(f"{method} bucket", f"s3:{method.title()}Bucket", bucket, None)

    for sub, methods in OBJECT_SUBRESOURCES.items():
        if sub in params and method in methods:
            op, action = methods[method]
            return S3Call(op, action, bucket, key)
    if "uploadId" in params:
        if method == "PUT":
            return S3Call("UploadPart", "s3:PutObject", bucket, key)
        if method == "POST":
            return S3Call("CompleteMultipartUpload", "s3:PutObject", bucket, key)
        if method == "DELETE":
            return S3Call("AbortMultipartUpload", "s3:AbortMultipartUpload", bucket, key)
        if method == "GET":
            return S3Call("ListParts", "s3:ListMultipartUploadParts", bucket, key)
    if "uploads" in params and method == "POST":
        return S3Call("CreateMultipartUpload", "s3:PutObject", bucket, key)
    if method == "GET":
        return S3Call("GetObject", "s3:GetObject", bucket, key)
    if method == "HEAD":
        return S3Call("HeadObject", "s3:GetObject", bucket, key)
    if method == "PUT":
        source = headers.get("x-amz-copy-source")
        if source:
            return S3Call("CopyObject", "s3:PutObject", bucket, key, copy_source=unquote(source).lstrip("/"))
        return S3Call("PutObject", "s3:PutObject", bucket, key)
    if method == "DELETE":
        return S3Call("DeleteObject", "s3:DeleteObject", bucket, key)
    return S3Call(f"{method} object", f"s3:{method.title()}Object", bucket, key)
