"""mmap+munmap pairs per second, with 100 and with 10,000 other mappings present.

The other mappings are one page each, placed by the kernel (top-down, so they
end up side by side) with alternating protections (``r--`` / ``rw-``) so that
none merges: they really are 100 or 10,000 VMAs, as ``maps()`` confirms.  Then
a loop maps one private anonymous read-write page where the kernel chooses and
unmaps it again.  The lowest of the other mappings is ``r--``, so the new page
does not merge with it either: each pair is one VMA inserted and removed.

The simulator runs on a ``Machine().spawn()`` process; the kernel on this
Python process through ctypes (libc's mmap and munmap).  The kernel's count
also includes the mappings the Python process already has.

Target: for the simulator, the rate with 10,000 mappings within 2x of the rate
with 100 (the kernel's slowdown is reported beside it).

    python benchmarks/bench_mmap_munmap.py [--pairs 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys

from _harness import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Libc,
    Result,
    best_and_spread,
    now,
    self_maps_count,
    table,
)
from mmapsim import Machine

ANON = MAP_PRIVATE | MAP_ANONYMOUS
RW = PROT_READ | PROT_WRITE


def _other_prot(i: int, others: int) -> int:
    """Alternate r-- and rw-, ending (at the lowest address) with r--."""
    return PROT_READ if (others - 1 - i) % 2 == 0 else RW


def sim_pairs_per_second(others: int, pairs: int) -> tuple[float, int]:
    """(pairs per second, VMAs present) on a simulated process."""
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
        t0 = now()
        for _ in range(pairs):
            munmap(mmap_(0, PAGE_SIZE, RW, ANON), PAGE_SIZE)
        elapsed = now() - t0
    return pairs / elapsed, vmas


def kernel_pairs_per_second(libc: Libc, others: int, pairs: int) -> tuple[float, int]:
    """(pairs per second, VMAs present) on this process, through libc."""
    baseline = self_maps_count()
    made = [libc.mmap(0, PAGE_SIZE, _other_prot(i, others), ANON) for i in range(others)]
    try:
        vmas = self_maps_count()
        if vmas - baseline < others * 0.95:  # a few may merge into the process's own
            raise RuntimeError(f"kernel: {vmas - baseline} VMAs for {others} mappings")
        mmap_, munmap = libc.raw_mmap, libc.raw_munmap
        t0 = now()
        for _ in range(pairs):
            munmap(mmap_(0, PAGE_SIZE, RW, ANON, -1, 0), PAGE_SIZE)
        elapsed = now() - t0
        libc.munmap(libc.mmap(0, PAGE_SIZE, RW, ANON), PAGE_SIZE)  # still working?
    finally:
        for va in made:
            libc.munmap(va, PAGE_SIZE)
    return pairs / elapsed, vmas


def run(pairs: int = 20000, repeats: int = 3) -> list[Result]:
    """A row per count of other mappings, and a row comparing the two."""
    libc = Libc()
    rates: dict[int, tuple[float, float]] = {}
    results = []
    for others in (100, 10_000):
        sims, kernels = [], []
        for _ in range(repeats):
            k, kernel_vmas = kernel_pairs_per_second(libc, others, pairs)
            s, sim_vmas = sim_pairs_per_second(others, pairs)
            kernels.append(k)
            sims.append(s)
        sim, sim_spread = best_and_spread(sims)
        kernel, kernel_spread = best_and_spread(kernels)
        rates[others] = (sim, kernel)
        results.append(
            Result(
                f"mmap+munmap, {others:,} other mappings",
                "pairs/s",
                sim,
                kernel,
                note=(
                    f"VMAs present: simulator {sim_vmas}, kernel {kernel_vmas}; "
                    f"simulator {sim_spread}; kernel {kernel_spread}"
                ),
            )
        )
    sim_slow = rates[100][0] / rates[10_000][0]
    kernel_slow = rates[100][1] / rates[10_000][1]
    results.append(
        Result(
            "mmap+munmap slowdown, 100 -> 10,000",
            "x",
            sim_slow,
            kernel_slow,
            target="simulator <= 2x",
            met=sim_slow <= 2.0,
        )
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20000, help="pairs timed per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (best counts)")
    args = parser.parse_args(argv)
    print(table(run(args.pairs, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
