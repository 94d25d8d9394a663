"""``python -m bench [--quick] [--output PATH]``: run every benchmark, print the table, write BENCHMARKS.md."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from pathlib import Path

from bench.config import FULL, QUICK
from bench.run import markdown, run_all, summary_text

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; the full run writes BENCHMARKS.md, ``--quick`` only prints unless ``--output``."""
    parser = argparse.ArgumentParser(prog="python -m bench", description="jitbot benchmarks on loopback")
    parser.add_argument("--quick", action="store_true", help="small samples: a smoke run of every scenario")
    parser.add_argument("--output", type=Path, default=None, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    command = " ".join([".venv/bin/python -m bench", *(shlex.quote(a) for a in (argv or sys.argv[1:]))])
    run = asyncio.run(run_all(sizes, command))
    sys.stdout.write(summary_text(run))
    if output is not None:
        output.write_text(markdown(run), encoding="utf-8")
        print(f"[bench] wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
