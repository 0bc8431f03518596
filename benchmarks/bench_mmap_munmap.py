"""mmap+munmap pairs per second, with 100 and with 65,000 other mappings present.

The other mappings are one page each, placed by the kernel (top-down, so they
end up side by side) with alternating protections (``r--`` / ``rw-``) so that
none merges: they really are 100 or 65,000 VMAs, as ``maps()`` confirms.  Then
a loop maps one private anonymous read-write page where the kernel chooses and
unmaps it again.  The lowest of the other mappings is ``r--``, so the new page
does not merge with it either: each pair is one VMA inserted and removed.

The simulator runs on a ``Machine().spawn()`` process; the kernel on this
Python process through ctypes (libc's mmap and munmap).  The mappings are made
once per count; the trials of ``--pairs`` pairs each then alternate between
the two.  The kernel's count includes the mappings the Python process already
has, and stays under ``vm.max_map_count`` (65,530 by default): it makes as many
of the 65,000 as fit below it, the note says how many.

Target (issue 14): for the simulator, the rate with 65,000 mappings at least
0.75 of its rate with 100 (the kernel's is reported beside it).

    python benchmarks/bench_mmap_munmap.py [--pairs 4000] [--trials 5]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
    self_maps_count,
    table,
)
from mmapsim import Machine

ANON = MAP_PRIVATE | MAP_ANONYMOUS
RW = PROT_READ | PROT_WRITE
COUNTS = (100, 65_000)


def _other_prot(i: int, others: int) -> int:
    """Alternate r-- and rw-, ending (at the lowest address) with r--."""
    return PROT_READ if (others - 1 - i) % 2 == 0 else RW


def _max_map_count() -> int:
    with open("/proc/sys/vm/max_map_count") as f:
        return int(f.read())


@contextmanager
def sim_process(others: int) -> Iterator[tuple[Callable[[int], float], int]]:
    """A simulated process with ``others`` mappings: (pairs -> pairs per second, VMAs)."""
    with Machine() as m:
        p = m.spawn()
        baseline = len(p.maps().splitlines())
        for i in range(others):
            p.mmap(0, PAGE_SIZE, _other_prot(i, others), ANON)
        vmas = len(p.maps().splitlines())
        if vmas != baseline + others:
            raise RuntimeError(f"simulator: {vmas - baseline} VMAs for {others} mappings")
        va = p.mmap(0, PAGE_SIZE, RW, ANON)
        if len(p.maps().splitlines()) != vmas + 1:
            raise RuntimeError("simulator: the benchmark page merged with a neighbour")
        p.munmap(va, PAGE_SIZE)
        mmap_, munmap = p.mmap, p.munmap

        def pairs_per_second(pairs: int) -> float:
            t0 = cpu()
            for _ in range(pairs):
                munmap(mmap_(0, PAGE_SIZE, RW, ANON), PAGE_SIZE)
            return pairs / (cpu() - t0)

        yield pairs_per_second, vmas


@contextmanager
def kernel_process(libc: Libc, others: int) -> Iterator[tuple[Callable[[int], float], int]]:
    """This process with ``others`` more mappings (as many as the limit allows)."""
    baseline = self_maps_count()
    others = min(others, _max_map_count() - baseline - 64)
    made = [libc.mmap(0, PAGE_SIZE, _other_prot(i, others), ANON) for i in range(others)]
    try:
        vmas = self_maps_count()
        if vmas - baseline < others * 0.95:  # a few may merge into the process's own
            raise RuntimeError(f"kernel: {vmas - baseline} VMAs for {others} mappings")
        mmap_, munmap = libc.raw_mmap, libc.raw_munmap

        def pairs_per_second(pairs: int) -> float:
            t0 = cpu()
            for _ in range(pairs):
                munmap(mmap_(0, PAGE_SIZE, RW, ANON, -1, 0), PAGE_SIZE)
            return pairs / (cpu() - t0)

        yield pairs_per_second, vmas
        libc.munmap(libc.mmap(0, PAGE_SIZE, RW, ANON), PAGE_SIZE)  # still working?
    finally:
        for va in made:
            libc.munmap(va, PAGE_SIZE)


def run(pairs: int = 4000, trials: int = TRIALS, counts: tuple[int, int] = COUNTS) -> list[Result]:
    """A row per count of other mappings, and a row comparing the two."""
    libc = Libc()
    medians: dict[int, Result] = {}
    for others in counts:
        with (
            sim_process(others) as (sim, sim_vmas),
            kernel_process(libc, others) as (
                kernel,
                kernel_vmas,
            ),
        ):
            sims, kernels = interleaved(lambda: sim(pairs), lambda: kernel(pairs), trials)
        medians[others] = result(
            f"mmap+munmap, {others:,} other mappings",
            "/s",
            sims,
            kernels,
            note=f"VMAs present: simulator {sim_vmas:,}, kernel {kernel_vmas:,}",
        )
    few, many = (medians[c] for c in counts)
    flat = Result(
        f"mmap+munmap rate at {counts[1]:,} / at {counts[0]:,}",
        "x",
        many.sim / few.sim,
        many.kernel / few.kernel,
        target="simulator >= 0.75",
        met=many.sim / few.sim >= 0.75,
    )
    return [few, many, flat]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4000, help="pairs timed per trial")
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials per side")
    parser.add_argument("--many", type=int, default=COUNTS[1], help="the larger count")
    args = parser.parse_args(argv)
    print(table(run(args.pairs, args.trials, (COUNTS[0], args.many))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
