"""The request middleware: the spec's metrics by route template, and one log record per request."""

from __future__ import annotations

import httpx
import pytest

from bakery_gateway.telemetry.observability import logger
from bakery_gateway.telemetry.pseudonymize import pseudonymizer
from tests.support.telemetry import (
    DOWNSTREAM_MS,
    RESPONSE_BODY,
    ROUTE_TEMPLATE,
    captured_log_text,
    captured_logs,
    middleware_app,
    sample,
)

REQUEST_BODY = b'{"item": "croissant"}'


async def post(app: object, path: str = "/api/v1/sales/items/42", **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await client.post(path, content=REQUEST_BODY, **kwargs)  # type: ignore[arg-type]


async def test_a_request_is_counted_under_its_route_template_never_its_raw_path() -> None:
    labels = {"method": "POST", "path": ROUTE_TEMPLATE, "status_code": "201"}
    before = sample("gateway_requests_total", **labels)

    await post(middleware_app())

    assert sample("gateway_requests_total", **labels) == before + 1
    assert (
        sample("gateway_requests_total", method="POST", path="/api/v1/sales/items/42", status_code="201") == 0
    )


async def test_the_duration_histogram_observes_each_request_by_method_and_template() -> None:
    before = sample("gateway_request_duration_seconds_count", method="POST", path=ROUTE_TEMPLATE)

    await post(middleware_app())

    assert sample("gateway_request_duration_seconds_count", method="POST", path=ROUTE_TEMPLATE) == before + 1


async def test_request_and_response_sizes_are_observed_in_bytes() -> None:
    labels = {"method": "POST", "path": ROUTE_TEMPLATE}
    request_before = sample("gateway_request_size_bytes_sum", **labels)
    response_before = sample("gateway_response_size_bytes_sum", **labels)

    await post(middleware_app())

    assert sample("gateway_request_size_bytes_sum", **labels) == request_before + len(REQUEST_BODY)
    assert sample("gateway_response_size_bytes_sum", **labels) == response_before + len(RESPONSE_BODY)


async def test_the_downstream_latency_is_observed_per_service_in_seconds() -> None:
    count_before = sample("gateway_downstream_duration_seconds_count", service="sales")
    sum_before = sample("gateway_downstream_duration_seconds_sum", service="sales")

    await post(middleware_app())

    assert sample("gateway_downstream_duration_seconds_count", service="sales") == count_before + 1
    assert sample("gateway_downstream_duration_seconds_sum", service="sales") == pytest.approx(
        sum_before + DOWNSTREAM_MS / 1000
    )


async def test_one_log_record_per_request_says_everything_about_it() -> None:
    with captured_logs() as records:
        response = await post(middleware_app(), headers={"x-request-id": "req-123"})

    (record,) = [r for r in records if r["message"] == "request"]
    assert response.headers["x-request-id"] == "req-123"
    assert {key: record[key] for key in ("correlation_id", "method", "route", "status", "service")} == {
        "correlation_id": "req-123",
        "method": "POST",
        "route": ROUTE_TEMPLATE,
        "status": 201,
        "service": "sales",
    }
    assert (record["user_id"], record["tenant_id"]) == ("user-42", "tenant-7")
    assert (record["request_bytes"], record["response_bytes"]) == (len(REQUEST_BODY), len(RESPONSE_BODY))
    assert record["downstream_ms"] == DOWNSTREAM_MS
    assert record["duration_ms"] > 0


async def test_the_first_request_of_a_container_is_logged_as_its_cold_start() -> None:
    app = middleware_app()

    with captured_logs() as records:
        await post(app)
        await post(app)

    assert [r["cold_start"] for r in records if r["message"] == "request"] == [True, False]


async def test_an_unexpected_error_is_logged_with_its_type_and_stack_trace_but_answered_without() -> None:
    transport = httpx.ASGITransport(app=middleware_app(), raise_app_exceptions=False)
    with captured_logs() as records:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.get("/api/v1/boom")

    error_record = next(r for r in records if r["message"] == "unhandled error")
    request_record = next(r for r in records if r["message"] == "request")
    assert response.status_code == 500
    assert "BoomError" in error_record["exception"]
    assert "Traceback" in error_record["exception"]
    assert (request_record["error"], request_record["status"]) == ("BoomError", 500)
    assert "BoomError" not in response.text
    assert "secret internals" not in response.text


async def test_pseudonymized_user_ids_never_show_the_id_itself() -> None:
    key = "k" * 32
    with captured_logs() as records:
        await post(middleware_app(user_id_for_log=pseudonymizer(key)))

    (record,) = [r for r in records if r["message"] == "request"]
    assert record["user_id"] == pseudonymizer(key)("user-42")
    assert record["user_id"].startswith("u_")
    assert "user-42" not in str(record)


async def test_no_token_or_cookie_reaches_the_logs_of_a_request() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLXNlY3JldA"
    cookie = "session=cookie-secret-value"

    with captured_log_text() as output:
        await post(middleware_app(), headers={"authorization": f"Bearer {token}", "cookie": cookie})
        # A caller that passes a secret field anyway: the logger drops it.
        logger.info("careless", extra={"token": token, "cookie": cookie, "authorization": token})

    text = output.getvalue()
    assert '"message":"request"' in text.replace(" ", "")
    assert token not in text
    assert "cookie-secret-value" not in text
    assert "c2lnbmF0dXJlLXNlY3JldA" not in text
