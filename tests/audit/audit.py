"""Known vulnerabilities in .venv's packages: ``make audit``, and the audit step of ``make test``.

pip-audit looks each installed package up in PyPI's JSON API (``https://pypi.org/pypi/{name}/{version}/json``:
its ``vulnerabilities`` field is PyPI's advisory feed). On its own it says "No known vulnerabilities
found" and exits 0 even when it looked nothing up: behind a mirror that serves pip's package index
but not that API, every package is "not found on PyPI and could not be audited". This wrapper says
what was checked instead, as one verdict and an exit status:

- ``PASSED`` (0): every package was looked up, and none has a known vulnerability outside the ignore list;
- ``VULNERABLE`` (1): some have; each advisory is listed;
- ``INCOMPLETE`` (3): some packages could not be looked up, each named: those were not audited;
- ``NOT AUDITED`` (3): the advisory feed cannot be reached (one look-up of the installed pip, a
  release PyPI always has, is tried first), or answered for no package: nothing was checked.

``--unaudited warn`` (``make test``) makes the last two exit 0, still printing the verdict: CI does not
go red because PyPI is out of reach, and never reports a pass it did not make. pip-audit failing
without a report is exit status 2 in either mode. Arguments after ``--`` go to pip-audit.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

# What pip-audit's default service asks for each package: PyPI's JSON API for one release. A mirror
# may serve a project's document (/pypi/pip/json) and still answer 404 here: the probe asks this form.
RELEASE_URL = "https://pypi.org/pypi/{name}/{version}/json"
TIMEOUT_SECONDS = 30.0
# Our own package, installed editable: not on PyPI, and not a dependency to audit.
EDITABLE_SKIP_REASON = "distribution marked as editable"

PASSED, VULNERABLE, FAILED, UNAUDITED = 0, 1, 2, 3


@dataclass(frozen=True)
class Verdict:
    status: int
    summary: str
    details: tuple[str, ...] = ()

    def text(self) -> str:
        return "\n".join((self.summary, *(f"  {line}" for line in self.details)))


def probe_url() -> str:
    """The look-up pip-audit makes for the installed pip, a release PyPI always has."""
    return RELEASE_URL.format(name="pip", version=importlib.metadata.version("pip"))


def probe_feed(client: httpx.Client, url: str) -> str | None:
    """None when PyPI's JSON API answers ``url`` with a release's document; else why it cannot be used."""
    try:
        response = client.get(url)
    except httpx.HTTPError as error:
        return f"{url}: {error.__class__.__name__}: {error}"
    if response.status_code != 200:
        return f"{url} answered {response.status_code}"
    try:
        document = response.json()
    except ValueError:
        document = None
    known = isinstance(document, dict) and isinstance(document.get("info"), dict)
    return None if known else f"{url} answered something other than PyPI's JSON API"


def unreachable(reason: str) -> Verdict:
    return Verdict(
        UNAUDITED,
        f"audit: NOT AUDITED - PyPI's advisory feed cannot be reached ({reason}); no package was checked",
        (f"pip-audit asks {RELEASE_URL} for each package: a package-index mirror is not enough",),
    )


def judge(report: Mapping[str, Any]) -> Verdict:
    """The verdict on pip-audit's JSON report (``--format json``)."""
    dependencies = report["dependencies"]
    audited = [item for item in dependencies if "vulns" in item]
    missed = [
        item
        for item in dependencies
        if "vulns" not in item and item.get("skip_reason") != EDITABLE_SKIP_REASON
    ]
    advisories = [
        f"{item['name']} {item['version']}: {vuln['id']} "
        f"(fixed in {', '.join(vuln['fix_versions']) or 'no release yet'})"
        for item in audited
        for vuln in item["vulns"]
    ]
    not_looked_up = [f"{item['name']}: {item.get('skip_reason', 'skipped')}" for item in missed]
    if advisories:
        packages = len({line.split(" ", 1)[0] for line in advisories})
        summary = f"audit: VULNERABLE - {len(advisories)} known vulnerabilities in {packages} package(s)"
        if missed:
            summary += f"; {len(missed)} package(s) could not be looked up"
        return Verdict(VULNERABLE, summary, (*advisories, *not_looked_up))
    if missed and not audited:
        return Verdict(
            UNAUDITED,
            f"audit: NOT AUDITED - none of the {len(missed)} packages could be looked up",
            tuple(not_looked_up),
        )
    if missed:
        return Verdict(
            UNAUDITED,
            f"audit: INCOMPLETE - {len(missed)} of {len(missed) + len(audited)} packages could not be "
            f"looked up and were not audited; the other {len(audited)} have no known vulnerability",
            tuple(not_looked_up),
        )
    return Verdict(PASSED, f"audit: PASSED - {len(audited)} packages looked up, no known vulnerability")


def run_pip_audit(arguments: Sequence[str]) -> Mapping[str, Any] | str:
    """pip-audit's JSON report on this interpreter's environment; its error output when it has none."""
    completed = subprocess.run(  # noqa: S603 - pip-audit of this environment, with the Makefile's arguments
        [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        return completed.stderr.strip()[-2000:] or f"pip-audit exited {completed.returncode} without a report"
    return report if isinstance(report, dict) and "dependencies" in report else completed.stdout[-2000:]


def audit(
    pip_audit_arguments: Sequence[str],
    *,
    probe: Callable[[], str | None],
    pip_audit: Callable[[Sequence[str]], Mapping[str, Any] | str],
) -> Verdict:
    if (reason := probe()) is not None:
        return unreachable(reason)
    report = pip_audit(pip_audit_arguments)
    if isinstance(report, str):
        return Verdict(FAILED, "audit: FAILED - pip-audit gave no report", tuple(report.splitlines()[-20:]))
    return judge(report)


def exit_status(verdict: Verdict, unaudited: str) -> int:
    """The verdict's status; an unaudited verdict counts as 0 only when told to ``warn``."""
    return 0 if verdict.status == UNAUDITED and unaudited == "warn" else verdict.status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.audit.audit", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--unaudited",
        choices=("fail", "warn"),
        default="fail",
        help="exit status when packages could not be looked up: 3 (fail, the default) or 0 (warn)",
    )
    parser.add_argument("pip_audit_arguments", nargs="*", help="after --: passed on to pip-audit")
    arguments = parser.parse_args(argv)
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        verdict = audit(
            arguments.pip_audit_arguments,
            probe=lambda: probe_feed(client, probe_url()),
            pip_audit=run_pip_audit,
        )
    print(verdict.text(), flush=True)
    status = exit_status(verdict, arguments.unaudited)
    if status != verdict.status:
        print("audit: not counted as a failure here (--unaudited warn); `make audit` fails on it", flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
