"""Benchmarks that boot what they need themselves and give one BENCHMARKS.md section each: `python -m bench`
runs them after its own measurements; `python -m bench.sections NAME …` re-measures only these and replaces
their sections in an existing BENCHMARKS.md (the others stay as they were measured).

A section module has ``run(quick: bool) -> list[str]``: markdown lines, the first a ``## `` heading.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path

#: Section modules, in the order their sections appear.
MODULES: tuple[str, ...] = ("ratelimit", "analytics", "scan")

Run = Callable[[bool], list[str]]


def measure(names: Sequence[str], quick: bool) -> list[list[str]]:
    sections = []
    for name in names:
        run: Run = importlib.import_module(f"bench.{name}").run
        lines = run(quick)
        if not lines or not lines[0].startswith("## "):
            raise ValueError(f"bench.{name}.run must return a section starting with a '## ' heading")
        sections.append(lines)
    return sections


def replace_sections(document: str, sections: list[list[str]]) -> str:
    """``document`` with each section put in place of the one with the same heading (or appended)."""
    lines = document.rstrip("\n").split("\n")
    for section in sections:
        heading = section[0].split("(")[0].strip()
        start = next((i for i, line in enumerate(lines) if line.split("(")[0].strip() == heading), None)
        if start is None:
            lines += ["", *section]
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = [*section, ""] if end < len(lines) else section
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", choices=MODULES)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    sections = measure(args.names, args.quick)
    args.out.write_text(replace_sections(args.out.read_text(), sections))
    print(f"updated {', '.join(args.names)} in {args.out}")


if __name__ == "__main__":
    main()
