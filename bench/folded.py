"""Reads py-spy's folded stacks (``-f raw``): the share of samples per frame, own and inclusive.

Only samples inside the proxy handler count (the loop around it is not the gateway's). Frames are
grouped by the same categories as ``profiling.py``.

Run: ``.venv/bin/python bench/folded.py build/hot.txt [--top 25] [--within handler]``
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from profiling import category_of

# py-spy frames look like "function (path/to/file.py:123)"
FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")


def parse(path: Path, within: str) -> tuple[Counter[str], Counter[str], Counter[str], int]:
    """Own samples per frame, inclusive samples per frame and per category, and the total."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        start = next((i for i, frame in enumerate(frames) if _name(frame).endswith(within)), None)
        if start is None:
            continue
        frames, count = frames[start:], int(count_text)
        total += count
        labels = [_label(frame) for frame in frames]
        own[labels[-1]] += count
        for label in set(labels):
            inclusive[label] += count
        categories[category_of(_file(frames[-1]))] += count
    return own, inclusive, categories, total


def _name(frame: str) -> str:
    match = FRAME.match(frame)
    return match["name"] if match else frame


def _file(frame: str) -> str:
    match = FRAME.match(frame)
    return match["file"] if match else frame


def _label(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    return f"{match['name']} ({Path(match['file']).name})"


def report(path: Path, within: str, top: int, call_us: float | None = None) -> list[str]:
    """Shares of the samples; with ``call_us`` (the profiled loop's time per call) also µs per call."""
    own, inclusive, categories, total = parse(path, within)
    if not total:
        return [f"no samples under {within!r} in {path}"]

    def rows(title: str, counts: list[tuple[str, int]], code: bool) -> list[str]:
        lines = ["", f"| {title} | share | µs/call |", "|---|---:|---:|"]
        for name, count in counts:
            micros = f"{count / total * call_us:.1f}" if call_us else "-"
            label = f"`{name}`" if code else name
            lines.append(f"| {label} | {count / total:.1%} | {micros} |")
        return lines

    lines = [f"{total} samples under {within!r}" + (f", {call_us:.0f} µs per call" if call_us else "")]
    lines += rows("category (own time)", categories.most_common(), code=False)
    lines += rows("frame (own time)", own.most_common(top), code=True)
    lines += rows("frame (inclusive)", inclusive.most_common(top), code=True)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--within", default="through_proxy", help="count only stacks through this function")
    parser.add_argument("--call-us", type=float, help="the loop's µs per call, to turn shares into µs")
    args = parser.parse_args(argv)
    print("\n".join(report(args.path, args.within, args.top, args.call_us)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
