"""RFC 9457 problem documents: the one place errors become responses."""

from __future__ import annotations

import json

from bakery_gateway.api.problems import problem_body, problem_headers, problem_json
from bakery_gateway.errors import AuthenticationError, PayloadTooLargeError, TenantAccessError


def test_a_problem_has_the_standard_members_with_the_request_id_as_instance() -> None:
    body = problem_body(PayloadTooLargeError("too big", extensions={"max_bytes": 10}), "req-1")

    assert body == {
        "type": "https://docs.bakery-ia.com/problems/payload-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": "too big",
        "instance": "req-1",
        "max_bytes": 10,
    }


def test_extension_members_never_override_the_standard_ones() -> None:
    error = TenantAccessError("no", extensions={"status": 200, "instance": "forged", "tenant_id": "t"})

    body = json.loads(problem_json(error, "req-1"))

    assert (body["status"], body["instance"], body["tenant_id"]) == (403, "req-1", "t")


def test_a_401_problem_carries_a_bearer_challenge() -> None:
    headers = problem_headers(AuthenticationError("token expired"), "req-1")

    assert headers["content-type"] == "application/problem+json"
    assert headers["x-request-id"] == "req-1"
    assert headers["www-authenticate"] == 'Bearer error="invalid_token", error_description="token expired"'


def test_a_challenge_cannot_be_broken_out_of_by_its_description() -> None:
    headers = problem_headers(AuthenticationError('bad "quoted" \\ detail'), "req-1")

    assert (
        headers["www-authenticate"]
        == 'Bearer error="invalid_token", error_description="bad \'quoted\'  detail"'
    )
