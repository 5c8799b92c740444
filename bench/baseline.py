"""Another commit of the gateway, runnable beside this checkout: the ``before`` of a same-run comparison.

``baseline_python(ref)`` checks ``ref`` out as a ``git worktree`` under ``build/bench-baseline/<commit>``
and gives it a virtualenv of its own there, both kept for the next run (a commit never changes). The
virtualenv holds the checkout's own packages (an editable install, so its ``template.yaml`` and
handler files are where its ``serve`` looks) and reaches the third-party packages of the bench's
virtualenv through a ``.pth`` line: nothing is downloaded, and the two arms run the same versions
of every dependency, so that only the gateway's own code differs. (A ``.pth`` line adds a folder to
``sys.path`` without running the ``.pth`` files in it: this checkout's editable install stays out.)
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "bench-baseline"
READY = ".ready"  # written last: a folder without it is an interrupted set-up, made again


def _git(*arguments: str, cwd: Path = ROOT) -> str:
    git = shutil.which("git") or "git"
    completed = subprocess.run([git, *arguments], cwd=cwd, capture_output=True, text=True, check=True)
    return completed.stdout.strip()


def resolve(ref: str) -> str:
    """The full commit ``ref`` names (a branch, a tag, a commit)."""
    return _git("rev-parse", "--verify", f"{ref}^{{commit}}")


def baseline_python(ref: str) -> tuple[str, Path]:
    """(the short commit, the Python of its virtualenv), set up on first use."""
    commit = resolve(ref)
    home = CACHE / commit
    python = home / "venv" / "bin" / "python"
    if (home / READY).exists():
        return commit[:7], python
    if home.exists():  # an interrupted set-up
        shutil.rmtree(home, ignore_errors=True)
        _git("worktree", "prune")
    home.mkdir(parents=True)
    print(f"baseline {ref} ({commit[:7]}): a worktree and a virtualenv in {home}", flush=True)
    _git("worktree", "add", "--detach", str(home / "checkout"), commit)
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "bench-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(home / "checkout")],
        check=True,
    )
    (home / READY).write_text(commit + "\n")
    return commit[:7], python


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
