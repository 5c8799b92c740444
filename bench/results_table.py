"""The suite's results file: one markdown section per run, appended, each a table of figures vs goals.

The heading of a run (when, on what, under which load) and the appending are shared with the other
results files that keep one section per run (``results/lambda_power.md``).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TITLE = "# Benchmark suite: one section per run (`make bench`)"
INTRO = (
    "Each run appends a section. Figures of one run are comparable with each other (same load); "
    "across runs, compare ratios, not absolute times: the machine is shared. Details of the last "
    "run: `overhead.md`."
)
COLUMNS = ("#", "figure", "value", "goal", "verdict", "same-run baseline / note")


@dataclass(frozen=True, slots=True)
class Row:
    item: str  # the numbering: 1, 2, 3, 6
    figure: str
    value: str
    goal: str = "-"
    met: bool | None = None  # None: no goal
    note: str = ""

    @property
    def verdict(self) -> str:
        return "-" if self.met is None else ("met" if self.met else "**not met**")


@dataclass(frozen=True, slots=True)
class RunHeader:
    started_utc: str  # "2026-11-26 07:50"
    load_start: float
    load_end: float
    cpu: str  # model name and count
    python: str
    code: str  # the commit measured


def cpu_description() -> str:
    """The processor's model name and how many CPUs this machine has."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} CPUs"


def run_heading(header: RunHeader) -> list[str]:
    """A run's heading: when, on what, which code and under which load it ran."""
    return [
        f"## Run {header.started_utc} UTC",
        "",
        f"{header.cpu}; Python {header.python}; code {header.code}; 1-minute load average "
        f"{header.load_start:.2f} at the start, {header.load_end:.2f} at the end.",
    ]


def render_run(header: RunHeader, rows: Sequence[Row]) -> str:
    """One run's section: a heading that says when, on what and under which load, then the table."""
    lines = [
        *run_heading(header),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|---|---:|---|---|---|",
    ]
    for row in rows:
        cells = (row.item, row.figure, row.value, row.goal, row.verdict, row.note)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def append_run(path: Path, section: str, *, title: str = TITLE, intro: str = INTRO) -> None:
    """Append ``section``; a new file starts with the title and the note on reading it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or not path.read_text().strip():
        path.write_text(f"{title}\n\n{intro}\n\n")
    with path.open("a") as results:
        results.write("\n" + section)
