"""IAM-authorized routes (``Auth: {Authorizer: AWS_IAM}``) in the local runtime.

API Gateway verifies a SigV4 signature against IAM before such a route runs. The local runtime has
no IAM to ask, so it accepts these routes from this machine only (a loopback source address) and
answers any other caller as API Gateway answers a request IAM refuses: 403 ``{"message":"Forbidden"}``.
"""

from __future__ import annotations

from bakery_gateway.serve.answers import FORBIDDEN, Answer, is_loopback
from bakery_local.template import RouteSpec


def iam_refusal(route: RouteSpec, source_ip: str) -> Answer | None:
    """API Gateway's 403 for an IAM route called from another machine; None when the call may go on."""
    if not route.iam or is_loopback(source_ip):
        return None
    return FORBIDDEN
