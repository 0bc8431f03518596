"""Run every benchmark and print one table: figure, simulator, kernel, ratio, target, met.

    python benchmarks/run_all.py [--quick] [--write-readme]

Each timed figure is the median of five interleaved trials of the simulator
and the real kernel (``_harness.py``).  ``--quick`` runs two small trials of
each (a smoke test of the scripts in well under a minute; its figures are not
the ones the targets speak of).  ``--write-readme`` also puts the table, as
Markdown, into ``benchmarks/README.md`` between its two ``results`` markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import bench_faults
import bench_files
import bench_fork
import bench_host
import bench_memory
import bench_mmap_munmap
import bench_startup
from _harness import TRIALS, Result, markdown, table

README = Path(__file__).with_name("README.md")
BEGIN, END = "<!-- results -->", "<!-- /results -->"


def benchmarks(quick: bool) -> list[tuple[str, Callable[[], list[Result]]]]:
    """Each benchmark with the sizes of a full or a quick run."""
    trials = 2 if quick else TRIALS
    return [
        ("faults", lambda: bench_faults.run(mib=8 if quick else 128, trials=trials)),
        ("files", lambda: bench_files.run(mib=2 if quick else 16, trials=trials)),
        (
            "mmap+munmap",
            lambda: bench_mmap_munmap.run(
                pairs=300 if quick else 4000,
                trials=trials,
                counts=(100, 2000) if quick else bench_mmap_munmap.COUNTS,
            ),
        ),
        (
            "fork, munmap",
            lambda: bench_fork.run(
                (5000, 10_000) if quick else bench_fork.FORK_PAGES,
                10_000 if quick else bench_fork.MUNMAP_PAGES,
                trials,
            ),
        ),
        ("memory", lambda: bench_memory.run(pages=2048 if quick else 16384)),
        ("HostMachine", lambda: bench_host.run(calls=50 if quick else 500, trials=trials)),
        ("start-up", lambda: bench_startup.run(trials=trials)),
    ]


def header(quick: bool, seconds: float) -> str:
    """When, on what, how long: the line above the table."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    day = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    kind = "quick run (not the figures of the targets)" if quick else f"medians of {TRIALS} trials"
    return (
        f"{day}; {kind}; Python {platform.python_version()}, Linux {platform.release()}, "
        f"{os.cpu_count()} CPUs, load average {load} at the end; {seconds:.0f} s"
    )


def write_readme(text: str) -> None:
    """Replace what stands between the README's markers by ``text``."""
    readme = README.read_text(encoding="utf-8")
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    README.write_text(readme[:start] + "\n" + text + "\n" + readme[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small trials of each")
    parser.add_argument("--write-readme", action="store_true", help="put the table in README.md")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    results: list[Result] = []
    for name, bench in benchmarks(args.quick):
        t = time.perf_counter()
        results += bench()
        print(f"[{name}: {time.perf_counter() - t:.0f} s]", file=sys.stderr, flush=True)
    about = header(args.quick, time.perf_counter() - t0)
    print(table(results))
    print(f"\n({about})", flush=True)
    missed = [r.name for r in results if r.met is False]
    if missed:
        print("targets missed: " + "; ".join(missed))
    if args.write_readme:
        write_readme(f"{about}.\n\n{markdown(results)}")
        print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
