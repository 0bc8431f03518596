"""The step-through page of a long run: its size, and what --html costs in time.

    python benchmarks/bench_viz_page.py [--steps 500] [--pages 2000] [--repeats 3]

Writes a scenario of ``--steps`` steps that touch ``--pages`` pages (a mapping
filled by memset, a fork, then stores of both processes into private pages and
a shared file page, through ``p.u64`` and ``p.int``), and runs
``mmapsim run FILE`` with and without ``--html``, each as its own process.  Time
is the CPU time of that process (user + system), the median of ``--repeats``
runs, the two commands interleaved.  Targets (issue 12): the page under 5 MB,
written in at most three times the time of the run without it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MB = 1_000_000


def scenario(steps: int, pages: int) -> str:
    """``steps`` steps over ``pages`` pages: memset, fork, then typed stores."""
    lines = [
        'file /tmp/data "' + "d" * 64 + '"',
        f"A: p = mmap(NULL, {pages} * 4096, PROT_READ | PROT_WRITE, "
        "MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)",
        'A: fd = open("/tmp/data", O_RDWR)',
        "A: f = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)",
        f"A: memset(p, 0x41, {pages} * 4096)",
        "B = fork(A)",
    ]
    i = 0
    while len(lines) < steps:
        who = "AB"[i % 2]
        if i % 5 == 0:
            lines.append(f"{who}: f.int[{i % 100}] = {i}")
        else:
            lines.append(f"{who}: p.u64[{(i * 37) % pages} * 512] = {i}")
        i += 1
    return "\n".join(lines) + "\n"


def cpu_of(argv: list[str]) -> float:
    """CPU seconds (user + system) of one run of ``argv`` as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    mmapsim = [sys.executable, "-m", "mmapsim"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.mmap"
        path.write_text(scenario(args.steps, args.pages), encoding="utf-8")
        page = Path(tmp) / "long.html"
        plain, with_html = [], []
        for _ in range(args.repeats):
            plain.append(cpu_of([*mmapsim, "run", str(path)]))
            with_html.append(cpu_of([*mmapsim, "run", str(path), "--html", str(page)]))
        size = os.path.getsize(page)
    best_plain, best_html = statistics.median(plain), statistics.median(with_html)
    ratio = best_html / best_plain
    print(f"scenario: {args.steps} steps, {args.pages} pages")
    for label, best, runs in (("without", best_plain, plain), ("with", best_html, with_html)):
        shown = ", ".join(f"{t:.2f}" for t in runs)
        print(f"run {label} --html: {best:.2f} s CPU (runs: {shown})")
    print(f"ratio: {ratio:.2f}  target <= 3: {'yes' if ratio <= 3 else 'NO'}")
    print(f"page: {size / MB:.2f} MB  target < 5 MB: {'yes' if size < 5 * MB else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
