"""``make audit``'s verdict (tests/audit/audit.py): a pass only when every package was looked up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest

from tests.audit.audit import (
    FAILED,
    PASSED,
    UNAUDITED,
    VULNERABLE,
    Verdict,
    audit,
    exit_status,
    judge,
    probe_feed,
)

PROBE = "https://pypi.org/pypi/pip/24.0/json"
CLEAN = {"name": "httpx", "version": "0.28.1", "vulns": []}
OURS = {"name": "bakery-gateway", "skip_reason": "distribution marked as editable"}
NOT_FOUND = {
    "name": "redis",
    "skip_reason": "Dependency not found on PyPI and could not be audited: redis (8.1.0)",
}
VULNERABLE_PACKAGE = {
    "name": "jinja2",
    "version": "3.1.2",
    "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": [], "description": "x"}],
}


def report(*dependencies: Mapping[str, Any]) -> dict[str, Any]:
    """pip-audit's ``--format json`` document."""
    return {"dependencies": list(dependencies), "fixes": []}


def feed(status: int, document: object = None) -> httpx.Client:
    """A client whose every request gets ``status`` with ``document`` as JSON."""
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(status, json=document)))


def test_every_package_looked_up_without_an_advisory_passes() -> None:
    verdict = judge(report(CLEAN, OURS))

    assert verdict.status == PASSED
    assert "1 packages looked up" in verdict.summary


def test_a_known_vulnerability_fails_and_names_the_advisory_and_its_fix() -> None:
    verdict = judge(report(CLEAN, VULNERABLE_PACKAGE))

    assert verdict.status == VULNERABLE
    assert verdict.details == ("jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)",)


def test_no_package_looked_up_is_not_audited_rather_than_no_known_vulnerability() -> None:
    verdict = judge(report(NOT_FOUND, {**NOT_FOUND, "name": "httpx"}, OURS))

    assert verdict.status == UNAUDITED
    assert "NOT AUDITED" in verdict.summary
    assert "PASSED" not in verdict.text()


def test_a_package_that_could_not_be_looked_up_makes_the_audit_incomplete_and_is_named() -> None:
    verdict = judge(report(CLEAN, NOT_FOUND))

    assert verdict.status == UNAUDITED
    assert "INCOMPLETE - 1 of 2 packages could not be looked up" in verdict.summary
    assert verdict.details == (f"redis: {NOT_FOUND['skip_reason']}",)


def test_our_own_editable_package_is_not_a_package_that_was_missed() -> None:
    assert judge(report(CLEAN, OURS)).details == ()


def test_a_vulnerability_wins_over_packages_that_could_not_be_looked_up() -> None:
    verdict = judge(report(VULNERABLE_PACKAGE, NOT_FOUND))

    assert verdict.status == VULNERABLE
    assert "1 package(s) could not be looked up" in verdict.summary


def test_a_feed_that_answers_404_for_a_release_cannot_be_used() -> None:
    # A mirror of the package index answers the project document but not the release's: pip-audit's question.
    assert probe_feed(feed(404), PROBE) == f"{PROBE} answered 404"


def test_a_feed_that_answers_a_release_document_can_be_used() -> None:
    assert probe_feed(feed(200, {"info": {"version": "24.0"}, "vulnerabilities": []}), PROBE) is None


def test_a_feed_that_answers_something_else_cannot_be_used() -> None:
    assert "other than PyPI's JSON API" in str(probe_feed(feed(200, ["a", "login", "page"]), PROBE))


def test_a_feed_out_of_reach_cannot_be_used() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    reason = probe_feed(httpx.Client(transport=httpx.MockTransport(refuse)), PROBE)

    assert reason == f"{PROBE}: ConnectError: [Errno -2] Name or service not known"


def test_an_unusable_feed_is_not_audited_without_running_pip_audit() -> None:
    ran: list[Sequence[str]] = []

    def pip_audit(arguments: Sequence[str]) -> Mapping[str, Any]:
        ran.append(arguments)
        return report(CLEAN)

    verdict = audit(["--skip-editable"], probe=lambda: f"{PROBE} answered 404", pip_audit=pip_audit)

    assert (verdict.status, ran) == (UNAUDITED, [])
    assert "NOT AUDITED - PyPI's advisory feed cannot be reached" in verdict.summary


def test_pip_audit_gets_the_arguments_and_its_report_is_judged() -> None:
    ran: list[Sequence[str]] = []

    def pip_audit(arguments: Sequence[str]) -> Mapping[str, Any]:
        ran.append(arguments)
        return report(CLEAN)

    verdict = audit(["--ignore-vuln", "GHSA-1"], probe=lambda: None, pip_audit=pip_audit)

    assert (verdict.status, ran) == (PASSED, [["--ignore-vuln", "GHSA-1"]])


def test_pip_audit_ending_without_a_report_fails_with_its_error() -> None:
    verdict = audit([], probe=lambda: None, pip_audit=lambda arguments: "ERROR:pip_audit: boom")

    assert verdict.status == FAILED
    assert verdict.details == ("ERROR:pip_audit: boom",)


@pytest.mark.parametrize(
    ("status", "unaudited", "expected"),
    [
        (UNAUDITED, "fail", UNAUDITED),
        (UNAUDITED, "warn", 0),
        (VULNERABLE, "warn", VULNERABLE),
        (FAILED, "warn", FAILED),
        (PASSED, "fail", 0),
    ],
)
def test_only_an_unaudited_verdict_is_softened_by_warn(status: int, unaudited: str, expected: int) -> None:
    assert exit_status(Verdict(status, "audit: ..."), unaudited) == expected
