"""Run every benchmark and print one table: simulator, kernel, ratio, target.

    python benchmarks/run_all.py [--quick]

``--quick`` runs each benchmark once with smaller sizes (a smoke test of the
scripts; its figures are not the ones the targets speak of).
"""

from __future__ import annotations

import argparse
import sys
import time

import bench_faults
import bench_memory
import bench_mmap_munmap
from _harness import Result, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small run of each")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    t0 = time.perf_counter()
    results: list[Result] = []
    results += bench_faults.run(mib=32 if args.quick else 256, repeats=repeats)
    results += bench_mmap_munmap.run(pairs=2000 if args.quick else 20000, repeats=repeats)
    results += bench_memory.run(pages=2048 if args.quick else 16384)
    print(table(results))
    print(f"\n({time.perf_counter() - t0:.0f} s; Python {sys.version.split()[0]})")
    missed = [r.name for r in results if r.met is False]
    if missed:
        print("targets missed: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
