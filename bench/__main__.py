"""`python -m bench [NAME ...]`: run the benchmarks the issues name (web, page_cost,
duplicates, sweep, dispatch, detectors) and print each figure with its same-run baseline and ratio.
Needs PostgreSQL (CASEBRIDGE_BENCH_ADMIN_URL, default postgresql://postgres@localhost/postgres)."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

BENCHMARKS = ("web", "page_cost", "duplicates", "sweep", "dispatch", "detectors")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"which to run (default: all of {', '.join(BENCHMARKS)})")
    modules = {name: importlib.import_module(f"bench.{name}") for name in BENCHMARKS}
    for module in modules.values():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    options = parser.parse_args(argv)
    unknown = set(options.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; "
                     f"choose from {', '.join(BENCHMARKS)}")
    failed = False
    for name in options.names or BENCHMARKS:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        for result in modules[name].run(options):
            print(result.line(), flush=True)
            failed |= result.passed is False
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
