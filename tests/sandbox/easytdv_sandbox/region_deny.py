"""A region closed by the organisation: an AWS Organizations service control
policy (SCP) that denies every action in a region (`aws:RequestedRegion`)
makes each call signed for it fail, in the service's own error format, with
IAM's wording for an explicit deny in an SCP:

    User: arn:aws:iam::123456789012:user/... is not authorized to perform:
    ec2:DescribeInstances with an explicit deny in a service control policy

(EC2: `UnauthorizedOperation`, "You are not authorized to perform this
operation. " first; S3: `AccessDenied` naming the resource; query services:
`AccessDenied`; JSON services: `AccessDeniedException`.)

`POST /easytdv-api/deny-region {"region": "eu-north-1"}` closes a region
(`"deny": false` opens it again); `GET` lists the closed regions;
`/moto-api/reset` opens them all. Test hooks and unsigned requests are not
affected; every principal of every account is (an SCP binds the whole account).
"""

from __future__ import annotations

import json
import threading
from xml.sax.saxutils import escape

from . import gateway
from .s3_regions import Fault

_lock = threading.Lock()
DENIED: set[str] = set()
# Services speaking the query protocol (XML ErrorResponse), besides EC2.
QUERY = {"cloudformation", "iam", "sts", "autoscaling", "sns", "sqs", "rds", "elasticloadbalancing", "monitoring"}


def reset() -> None:
    with _lock:
        DENIED.clear()


def closed(region: str) -> bool:
    with _lock:
        return region in DENIED


@gateway.hook("deny-region")
def _deny_hook(method: str, data: dict) -> tuple[int, dict]:
    """POST {"region": "eu-north-1", "deny": true|false}; GET lists the closed regions."""
    if method == "POST":
        region = str(data["region"])
        with _lock:
            if data.get("deny", True):
                DENIED.add(region)
            else:
                DENIED.discard(region)
    with _lock:
        return 200, {"denied": sorted(DENIED)}


def _who(entry: dict) -> str:
    account = entry.get("account") or "123456789012"
    return f"arn:aws:iam::{account}:user/{entry.get('principal', 'moto').replace(':', '-')}"


def refusal(entry: dict, resource: str = "*") -> Fault | None:
    """The SCP's answer to a call signed for a closed region (None: not closed)."""
    region, service, action = entry.get("region", ""), entry.get("service", ""), entry.get("action", "")
    if not closed(region):
        return None
    on = f' on resource: "{resource}"' if service == "s3" and resource != "*" else ""
    message = (
        f"User: {_who(entry)} is not authorized to perform: {action}{on} "
        "with an explicit deny in a service control policy"
    )
    if service == "ec2":
        text = f"You are not authorized to perform this operation. {message}"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>{escape(text)}</Message></Error>"
            "</Errors><RequestID>sandbox</RequestID></Response>"
        ).encode()
        return Fault(403, "Forbidden", body, "UnauthorizedOperation", [("Content-Type", "text/xml;charset=UTF-8")])
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message>"
            "<RequestId>sandbox</RequestId><HostId>sandbox</HostId></Error>"
        ).encode()
        return Fault(403, "Forbidden", body, "AccessDenied", [("Content-Type", "application/xml")])
    if service in QUERY:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>sandbox</RequestId></ErrorResponse>"
        ).encode()
        return Fault(403, "Forbidden", body, "AccessDenied", [("Content-Type", "text/xml")])
    if service == "lambda":  # REST-JSON: the code is in a header
        body = json.dumps({"Type": "User", "message": message}).encode()
        return Fault(
            403,
            "Forbidden",
            body,
            "AccessDeniedException",
            [("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException")],
        )
    body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
    return Fault(400, "Bad Request", body, "AccessDeniedException", [("Content-Type", "application/x-amz-json-1.1")])


def install() -> None:
    reset()
