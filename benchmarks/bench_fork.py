"""fork of a process with 50,000 and 100,000 present pages; munmap of 100,000.

fork: a process whose private anonymous mapping has every page present
(written by ``MADV_POPULATE_WRITE``, transparent huge pages refused on the
kernel) forks; the child exits at once and the parent waits for it.  The
figure is the wall time of the three (fork, the child's exit, wait), since
the work spans two processes.  The simulator: ``p.fork()``, ``child.exit(0)``,
``p.waitpid``, on one ``Machine`` whose parent forks once per trial.  The kernel:
a real ``os.fork`` of a fresh Python process (this script with ``--child``)
holding that many present pages and nothing else of size, one per trial.

munmap: a mapping of 100,000 present pages is unmapped (CPU time of this
process: the kernel frees the frames in system time).

Target (issue 14): the fork with 50,000 pages at most 4 times the real fork's time.

    python benchmarks/bench_fork.py [--pages 50000,100000] [--trials 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from functools import partial

from _harness import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    TRIALS,
    Libc,
    Result,
    cpu,
    interleaved,
    result,
    table,
    wall,
)
from mmapsim import MADV_POPULATE_WRITE, Machine, Process

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
FORK_PAGES = (50_000, 100_000)
MUNMAP_PAGES = 100_000


def sim_present(p: Process, pages: int) -> int:
    """A simulated private anonymous mapping of ``pages`` present pages; its address."""
    size = pages * PAGE_SIZE
    va = p.mmap(0, size, RW, ANON)
    p.madvise(va, size, MADV_POPULATE_WRITE)
    return va


def sim_fork(p: Process) -> float:
    """Seconds (wall) of fork, the child's exit and the parent's wait."""
    t0 = wall()
    child = p.fork()
    child.exit(0)
    p.waitpid(child.pid, 0)
    return wall() - t0


def kernel_fork_child(pages: int) -> float:
    """In a fresh process: ``pages`` present pages, then fork, _exit, wait (wall seconds)."""
    Libc().present_anon(pages)
    t0 = wall()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return wall() - t0


def kernel_fork(pages: int) -> float:
    """One trial of the kernel's fork, in a fresh Python process."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(pages)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(out.stdout))


def sim_munmap(p: Process, pages: int) -> float:
    """CPU seconds of munmap of ``pages`` present pages on the simulator."""
    va = sim_present(p, pages)
    t0 = cpu()
    p.munmap(va, pages * PAGE_SIZE)
    return cpu() - t0


def kernel_munmap(libc: Libc, pages: int) -> float:
    va = libc.present_anon(pages)
    t0 = cpu()
    libc.munmap(va, pages * PAGE_SIZE)
    return cpu() - t0


def run(
    fork_pages: tuple[int, ...] = FORK_PAGES,
    munmap_pages: int = MUNMAP_PAGES,
    trials: int = TRIALS,
) -> list[Result]:
    """A row per fork size and one for munmap: medians of ``trials`` interleaved trials."""
    results = []
    for i, pages in enumerate(fork_pages):
        with Machine() as m:
            p = m.spawn()
            sim_present(p, pages)
            sims, kernels = interleaved(partial(sim_fork, p), partial(kernel_fork, pages), trials)
        results.append(
            result(
                f"fork + exit + wait, {pages:,} present pages",
                "ms",
                [s * 1000 for s in sims],
                [k * 1000 for k in kernels],
                target="<= 4x kernel" if i == 0 else "",
                met=(lambda s, k: s <= 4 * k) if i == 0 else None,
                higher=False,
            )
        )
    libc = Libc()
    with Machine() as m:
        p = m.spawn()
        sims, kernels = interleaved(
            lambda: sim_munmap(p, munmap_pages), lambda: kernel_munmap(libc, munmap_pages), trials
        )
    results.append(
        result(
            f"munmap of {munmap_pages:,} present pages",
            "ms",
            [s * 1000 for s in sims],
            [k * 1000 for k in kernels],
            higher=False,
        )
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="50000,100000", help="fork sizes, comma-separated")
    parser.add_argument("--munmap-pages", type=int, default=MUNMAP_PAGES)
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials per side")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(kernel_fork_child(args.child)))
        return 0
    sizes = tuple(int(n) for n in args.pages.split(","))
    print(table(run(sizes, args.munmap_pages, args.trials)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
