"""bounded_json: JSON read within a size and a depth, whatever an attacker sends."""

from __future__ import annotations

import json

import pytest

from bakery_gateway.bounded_json import MAX_DEPTH, depth, loads
from bakery_gateway.errors import JsonInputError


def test_a_document_is_read_as_json_reads_it() -> None:
    text = json.dumps({"a": [1, 2.5, None, True, {"b": "ü"}]})

    assert loads(text, max_bytes=1024) == json.loads(text)
    assert loads(text.encode(), max_bytes=1024) == json.loads(text)


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ('{"a":', "}")])
def test_nesting_up_to_the_limit_is_read_and_one_more_level_is_refused(opening: str, closing: str) -> None:
    within = opening * MAX_DEPTH + "1" + closing * MAX_DEPTH
    beyond = opening * (MAX_DEPTH + 1) + "1" + closing * (MAX_DEPTH + 1)

    assert loads(within, max_bytes=len(within)) is not None
    with pytest.raises(JsonInputError, match="deeper"):
        loads(beyond, max_bytes=len(beyond))


def test_a_thousand_unclosed_brackets_are_refused_without_recursion() -> None:
    with pytest.raises(JsonInputError):
        loads("[" * 5000, max_bytes=5000)


@pytest.mark.parametrize(
    "text", [json.dumps({"m": "[" * 100}), json.dumps({"m": '\\"[' * 50}), json.dumps(["{" * 99])]
)
def test_brackets_inside_strings_are_text_not_nesting(text: str) -> None:
    assert depth(text) == 1
    assert loads(text, max_bytes=len(text)) == json.loads(text)


def test_an_unclosed_string_cannot_hide_nesting_after_it() -> None:
    text = '["' + "[" * 100

    assert depth(text) > MAX_DEPTH
    with pytest.raises(JsonInputError, match="deeper"):
        loads(text, max_bytes=len(text))


def test_a_document_over_the_size_is_refused_before_it_is_read() -> None:
    with pytest.raises(JsonInputError, match="over 10 bytes"):
        loads('{"a": "long"}', max_bytes=10)


@pytest.mark.parametrize("data", [b"\xff\xfe{}", b'{"a": "\xc0\xae"}'])
def test_bytes_that_are_not_utf_8_are_refused(data: bytes) -> None:
    with pytest.raises(JsonInputError, match="UTF-8"):
        loads(data, max_bytes=64)


@pytest.mark.parametrize("text", ["", "{", '{"a": }', "nope", "1e999999999x", "9" * 5000])
def test_what_is_not_json_is_refused_with_the_one_error_a_value_error(text: str) -> None:
    with pytest.raises(JsonInputError) as error:
        loads(text, max_bytes=10_000)

    assert isinstance(error.value, ValueError)


def test_a_document_with_few_brackets_is_not_scanned() -> None:
    # The count of opening brackets bounds the depth: the cheap answer for tokens and small bodies.
    assert depth('{"a": ["]]]]", 1]}') == 2
