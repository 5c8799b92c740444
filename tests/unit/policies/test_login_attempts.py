"""Login attempts: which requests are one, whatever the route's spelling, and which accounts they name."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bakery_gateway import bounded_json
from bakery_gateway.errors import BadRequestError, PayloadTooLargeError
from bakery_gateway.forwarding.routing import resolve
from bakery_gateway.policies.login_attempts import MAX_LOGIN_NAMES, is_login, login_names, normalized_name

URLS = {"auth": "http://auth", "tenants": "http://tenants", "sales": "http://sales"}
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/login",
        "/api/v1/auth/login/",
        "/api/v1/auth/register",
        "/api/v1/tenants/t1/auth/login",
        "/api/v1/tenants/t1/auth/register/",
        "/api/v1/auth/%6cogin",
    ],
)
def test_every_spelling_of_the_login_and_register_routes_is_a_login(path: str) -> None:
    assert is_login("POST", resolve(path, URLS).unscoped_path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/auth/login/extra"),
        ("POST", "/api/v1/sales/auth/login"),
        ("POST", "/api/v1/tenants/t1"),
    ],
)
def test_other_requests_are_not_logins(method: str, path: str) -> None:
    assert not is_login(method, resolve(path, URLS).unscoped_path)


def test_a_json_body_names_its_email_username_and_login_fields() -> None:
    body = json.dumps({"email": "Ana@Example.com", "username": "ana", "login": "ana", "password": "x"})

    assert login_names(body.encode(), JSON) == ("ana@example.com", "ana")


@pytest.mark.parametrize("content_type", [FORM, None, "text/plain"])
def test_a_form_body_names_its_fields_whatever_its_declared_type(content_type: str | None) -> None:
    body = urlencode({"username": " ANA@example.com ", "password": "x"}).encode()

    if content_type is None:  # undeclared is read as JSON first (as FastAPI): a form is not JSON
        with pytest.raises(BadRequestError):
            login_names(body, content_type)
    else:
        assert login_names(body, content_type) == ("ana@example.com",)


@pytest.mark.parametrize(
    ("spelling", "name"),
    [("ANA", "ana"), ("\u00a0ana\t", "ana"), ("\uff21\uff2e\uff21", "ana"), ("Straße", "strasse")],
)
def test_a_name_has_one_spelling(spelling: str, name: str) -> None:
    assert normalized_name(spelling) == name


def test_a_body_naming_more_accounts_than_the_limit_is_refused() -> None:
    body = urlencode([("email", f"user{n}@example.com") for n in range(MAX_LOGIN_NAMES + 1)]).encode()

    with pytest.raises(BadRequestError, match="at most"):
        login_names(body, FORM)


@pytest.mark.parametrize("body", [b"[" * 5000, b'{"email": "a@example.com"', b"\xff"])
def test_a_body_declared_json_that_is_not_readable_json_is_refused(body: bytes) -> None:
    with pytest.raises(BadRequestError):
        login_names(body, JSON)


def test_a_body_over_the_size_the_gateway_reads_is_refused_413() -> None:
    with pytest.raises(PayloadTooLargeError):
        login_names(b" " * (bounded_json.REQUEST_BODY_BYTES + 1), JSON)


def test_an_empty_body_names_no_account() -> None:
    assert login_names(b"", JSON) == ()
