"""IAM-authorized routes (``Auth: {Authorizer: AWS_IAM}``) in the local runtime.

API Gateway verifies a SigV4 signature against IAM before such a route runs. The local runtime has
no IAM to ask, so it accepts these routes from this machine only (a loopback source address) and
answers any other caller as API Gateway answers a request IAM refuses: 403 ``{"message":"Forbidden"}``.
"""

from __future__ import annotations

import ipaddress
import json

from bakery_local.template import RouteSpec

FORBIDDEN_BODY = json.dumps({"message": "Forbidden"}).encode()


def is_loopback(source_ip: str) -> bool:
    try:
        address = ipaddress.ip_address(source_ip.strip("[]"))
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def iam_refusal(route: RouteSpec, source_ip: str) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
    """API Gateway's 403 for an IAM route called from another machine; None when the call may go on."""
    if not route.iam or is_loopback(source_ip):
        return None
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(FORBIDDEN_BODY)).encode())]
    return 403, headers, FORBIDDEN_BODY
