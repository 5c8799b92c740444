"""The suite's results file: one markdown section per run, appended, each a table of figures vs goals."""

from __future__ import annotations

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


def render_run(header: RunHeader, rows: Sequence[Row]) -> str:
    """One run's section: a heading that says when, on what and under which load, then the table."""
    lines = [
        f"## Run {header.started_utc} UTC",
        "",
        f"{header.cpu}; Python {header.python}; code {header.code}; 1-minute load average "
        f"{header.load_start:.2f} at the start, {header.load_end:.2f} at the end.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|---|---:|---|---|---|",
    ]
    for row in rows:
        cells = (row.item, row.figure, row.value, row.goal, row.verdict, row.note)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def append_run(path: Path, section: str) -> None:
    """Append ``section``; a new file starts with the title and the note on reading it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or not path.read_text().strip():
        path.write_text(f"{TITLE}\n\n{INTRO}\n\n")
    with path.open("a") as results:
        results.write("\n" + section)
