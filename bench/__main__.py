"""`make bench`: run every ``bench/bench_*.py`` and print one table of their results.

Each module has ``def run() -> list[Result]``; a result names what was measured, the figure,
the target from its issue and whether the figure meets it.
"""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import Result


def main(names: list[str]) -> int:
    here = Path(__file__).parent
    modules = sorted(p.stem for p in here.glob("bench_*.py"))
    if names:
        modules = [m for m in modules if any(n in m for n in names)]
    console = Console(width=120)
    console.print(f"machine: {platform.node()} · {platform.processor() or platform.machine()} · "
                  f"python {platform.python_version()}")
    results: list[Result] = []
    for name in modules:
        console.print(f"running {name} …")
        results.extend(importlib.import_module(f"bench.{name}").run())
    table = Table(title="hexabot benchmarks")
    for column in ("benchmark", "measured", "target", "meets"):
        table.add_column(column)
    for result in results:
        table.add_row(result.name, result.measured, result.target,
                      "yes" if result.ok else "[red]NO[/]")
    console.print(table)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
