"""Whether Lambda can return an answer: measured exactly only where a bound cannot tell."""

from __future__ import annotations

import pytest

from bakery_gateway.api.platform_limits import LAMBDA_RESPONSE_PAYLOAD_BYTES
from bakery_gateway.edge import lambda_http
from bakery_gateway.edge.lambda_http import fits_in_lambda_response

TEXT = [("content-type", "text/plain")]


def test_a_small_answer_fits_without_being_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*arguments: object) -> None:
        raise AssertionError("encoded to measure it")

    monkeypatch.setattr(lambda_http, "lambda_response", never)

    assert fits_in_lambda_response(200, TEXT, b"x" * 100_000)


def test_an_answer_of_a_sixth_of_the_limit_fits_without_being_encoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No body byte costs more than six in the JSON: the bound alone says so.
    def never(*arguments: object) -> None:
        raise AssertionError("encoded to measure it")

    monkeypatch.setattr(lambda_http, "lambda_response", never)

    assert fits_in_lambda_response(200, TEXT, b"\x01" * (LAMBDA_RESPONSE_PAYLOAD_BYTES // 6 - 1_000))


def test_a_large_text_answer_under_the_limit_fits() -> None:
    assert fits_in_lambda_response(200, TEXT, b"x" * (LAMBDA_RESPONSE_PAYLOAD_BYTES // 2))


def test_a_binary_answer_whose_base64_passes_the_limit_does_not_fit() -> None:
    body = b"\x00" * (LAMBDA_RESPONSE_PAYLOAD_BYTES * 3 // 4 + 1)

    assert not fits_in_lambda_response(200, [("content-type", "application/octet-stream")], body)


def test_a_text_answer_whose_escapes_pass_the_limit_does_not_fit() -> None:
    # Each control character is six bytes in the response's JSON ("\u0001").
    assert not fits_in_lambda_response(200, TEXT, b"\x01" * (LAMBDA_RESPONSE_PAYLOAD_BYTES // 6 + 1))
