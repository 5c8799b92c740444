"""Another commit of the gateway beside this checkout: the ``before`` of a same-run comparison.

``source(ref)`` exports the commit ``ref`` names (``git archive``: its tracked files, nothing of this
checkout's working tree) into ``build/bench-baseline/<commit>/source``, kept for the next run (a
commit never changes). Both benches that compare with a baseline start from it:
``make bench-lambda`` sam-builds it there (``lambda_baseline``), ``make bench-throughput`` runs its
``serve`` from ``baseline_python(ref)``: a virtualenv beside it holding the commit's own packages (an
editable install, so its ``template.yaml`` and handler files are where its ``serve`` looks) that
reaches the third-party packages of the bench's virtualenv through a ``.pth`` line: nothing is
downloaded, and both arms run the same versions of every dependency, so that only the gateway's own
code differs. (A ``.pth`` line adds a folder to ``sys.path`` without running the ``.pth`` files in
it: this checkout's editable install stays out.)
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "bench-baseline"
READY = ".ready"  # written last: a folder without it is an interrupted set-up, made again
GIT = shutil.which("git") or "git"


class BaselineError(Exception):
    """The baseline commit could not be read, exported or set up; the message says why."""


def resolve(ref: str, repo: Path = ROOT) -> str:
    """The full commit ``ref`` names now (a branch, a tag, a commit)."""
    return _git(repo, "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}").strip()


def source(ref: str, repo: Path = ROOT, cache: Path = CACHE) -> tuple[str, Path]:
    """(the full commit ``ref`` names, a folder holding that commit's files), exported on first use."""
    commit = resolve(ref, repo)
    folder = cache / commit / "source"
    if (folder / READY).is_file():
        return commit, folder
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted export
    folder.mkdir(parents=True)
    export(repo, commit, folder)
    (folder / READY).write_text(commit + "\n")
    return commit, folder


def export(repo: Path, commit: str, folder: Path) -> None:
    """``commit``'s tracked files written into ``folder``."""
    with tempfile.TemporaryFile() as archive:
        exported = subprocess.run(
            [GIT, "archive", "--format=tar", commit],
            cwd=repo,
            stdout=archive,
            stderr=subprocess.PIPE,
            check=False,
        )
        if exported.returncode != 0:
            raise BaselineError(f"git archive {commit[:7]} failed: {exported.stderr.decode().strip()}")
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(folder, filter="data")


def baseline_python(ref: str) -> tuple[str, Path]:
    """(the short commit, the Python of its virtualenv), set up on first use."""
    commit, checkout = source(ref)
    home = checkout.parent / "venv"
    python = home / "bin" / "python"
    if (home / READY).exists():
        return commit[:7], python
    shutil.rmtree(home, ignore_errors=True)  # an interrupted set-up
    print(f"baseline {ref} ({commit[:7]}): a virtualenv in {home}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "bench-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(checkout)],
        check=True,
    )
    (home / READY).write_text(commit + "\n")
    return commit[:7], python


def _git(repo: Path, *arguments: str) -> str:
    done = subprocess.run([GIT, *arguments], cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BaselineError(f"git {' '.join(arguments)}: {done.stderr.strip()}")
    return done.stdout


def cpu_before_after(rows: Sequence[tuple[int, str, object, Mapping[str, float]]]) -> list[str]:
    """Each gateway arm's server CPU per request (median over the rounds), and the ratio of this
    checkout's to the baseline's: empty without a ``gateway@REF`` arm."""
    per_arm: dict[str, list[float]] = {}
    for _, name, _, cpu in rows:
        if name.startswith("gateway"):
            per_arm.setdefault(name, []).append(cpu["server"])
    baselines = [name for name in per_arm if name.startswith("gateway@")]
    if not baselines or "gateway" not in per_arm:
        return []
    now = statistics.median(per_arm["gateway"])
    lines = ["| arm | serve's CPU µs/req (median of rounds) | rounds |", "|---|---:|---|"]
    lines += [
        f"| {name} | {statistics.median(values):.0f} | {', '.join(f'{v:.0f}' for v in values)} |"
        for name, values in per_arm.items()
    ]
    for name in baselines:
        before = statistics.median(per_arm[name])
        lines.append("")
        lines.append(
            f"serve's CPU per request, gateway / {name}: {now / before:.3f} "
            f"({(now - before) / before:+.1%}; {now:.0f} µs vs {before:.0f} µs)"
        )
    lines.append("")
    return lines
