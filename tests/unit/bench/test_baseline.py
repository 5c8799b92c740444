"""bench/baseline.py: the commit a ref names, recorded when the run begins, and its files exported
for the benches that compare with it (`--baseline-ref`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.bench import bench_module

baseline = bench_module("baseline")
GIT = shutil.which("git") or "git"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run([GIT, *args], cwd=repo, check=True, capture_output=True, text=True)  # noqa: S603 - git
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    _git(folder, "init", "--quiet", "--initial-branch", "main")
    (folder / "template.yaml").write_text("first\n")
    _git(folder, "add", ".")
    _git(folder, "-c", "user.name=b", "-c", "user.email=b@example.org", "commit", "--quiet", "-m", "one")
    return folder


def test_a_ref_is_recorded_as_the_commit_it_names_when_the_run_begins(repo: Path) -> None:
    commit = _git(repo, "rev-parse", "HEAD")

    assert baseline.resolve("main", repo) == commit


def test_a_ref_that_names_no_commit_is_a_baseline_error(repo: Path) -> None:
    with pytest.raises(baseline.BaselineError):
        baseline.resolve("no-such-branch", repo)


def test_the_baseline_is_the_commits_files_not_the_working_trees(repo: Path, tmp_path: Path) -> None:
    (repo / "template.yaml").write_text("changed, not committed\n")

    commit, folder = baseline.source("main", repo, cache=tmp_path / "cache")

    assert commit == _git(repo, "rev-parse", "HEAD")
    assert (folder / "template.yaml").read_text() == "first\n"


def test_an_exported_commit_is_reused(repo: Path, tmp_path: Path) -> None:
    _, folder = baseline.source("main", repo, cache=tmp_path / "cache")
    (folder / "left-by-a-build").write_text("kept")

    _, again = baseline.source("main", repo, cache=tmp_path / "cache")

    assert again == folder
    assert (again / "left-by-a-build").read_text() == "kept"


def test_an_interrupted_export_is_made_again(repo: Path, tmp_path: Path) -> None:
    commit = _git(repo, "rev-parse", "HEAD")
    half_done = tmp_path / "cache" / commit / "source"
    half_done.mkdir(parents=True)
    (half_done / "stray").write_text("from an interrupted export")

    _, folder = baseline.source("main", repo, cache=tmp_path / "cache")

    assert not (folder / "stray").exists()
    assert (folder / "template.yaml").read_text() == "first\n"
