"""``bakery-gateway``'s help, and the command it tells a newcomer to run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from bakery_local import cli


def help_of(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    with pytest.raises(SystemExit):
        cli.main([*arguments, "--help"])
    return capsys.readouterr().out


def test_the_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys)

    assert "``" not in text
    assert "bakery-gateway: run the gateway locally" in text


@pytest.mark.parametrize(
    "default",
    ["--host HOST           address to listen on (default: 127.0.0.1)", "(default: 8000)", "(default: 32)"],
)
def test_local_help_gives_each_default(capsys: pytest.CaptureFixture[str], default: str) -> None:
    assert default in help_of(capsys, "local")


def test_the_command_is_its_name_when_path_finds_this_installation(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = Path(sys.executable).parent / "bakery-gateway"
    monkeypatch.setattr(shutil, "which", lambda name: str(installed))

    assert cli.command_path() == "bakery-gateway"


def test_the_command_is_its_path_from_the_working_directory_when_path_does_not_find_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    venv = Path(sys.executable).parent.parent
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.chdir(venv.parent)

    assert cli.command_path() == f"{venv.name}/bin/bakery-gateway"


def test_another_installation_on_path_is_not_the_one_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # e.g. a `pip install --user` copy of another version: the banner must name the runtime's own
    other = tmp_path / "bakery-gateway"
    other.write_text("#!/bin/sh\n")
    monkeypatch.setattr(shutil, "which", lambda name: str(other))
    monkeypatch.chdir(tmp_path)

    assert cli.command_path() == str(Path(sys.executable).parent / "bakery-gateway")
