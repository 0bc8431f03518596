"""Page faults per second: one byte written to every page of 256 MiB.

Both sides write one byte to each page of a fresh 256 MiB private anonymous
mapping, so every store is a write fault on a missing page that allocates a
zeroed frame.  The simulator: ``p.store(va, b"\\x01")`` on a ``Machine().spawn()``
process.  The kernel: the same loop over a real anonymous mapping made by
Python's ``mmap`` module, with transparent huge pages refused (MADV_NOHUGEPAGE)
so that each page really faults; the process's minor-fault count confirms it.

Target: the simulator at least half the kernel's rate.  Each side runs a few
times, alternating; the best run of each counts (the least disturbed by other
work on the computer) and the note gives the spread.

    python benchmarks/bench_faults.py [--mib 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import mmap
import resource
import sys

from _harness import MIB, PAGE_SIZE, Result, best_and_spread, now, table
from mmapsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine


def sim_faults_per_second(size: int) -> float:
    """Write one byte to every page of a fresh simulated mapping; faults per second."""
    with Machine() as m:
        p = m.spawn()
        base = p.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        store = p.store
        one = b"\x01"
        t0 = now()
        for va in range(base, base + size, PAGE_SIZE):
            store(va, one)
        elapsed = now() - t0
        _check_sim_rss(p.smaps(), base, size)
    return size // PAGE_SIZE / elapsed


def _check_sim_rss(smaps: str, base: int, size: int) -> None:
    """Make sure every page was faulted in (the mapping's Rss is its size)."""
    lines = smaps.splitlines()
    head = f"{base:08x}-"
    for i, line in enumerate(lines):
        if line.startswith(head):
            rss = next(x for x in lines[i + 1 :] if x.startswith("Rss:"))
            if int(rss.split()[1]) * 1024 != size:
                raise RuntimeError(f"simulator: expected Rss {size}, smaps says {rss!r}")
            return
    raise RuntimeError("simulator: the benchmark mapping is missing from smaps")


def kernel_faults_per_second(size: int) -> float:
    """The same loop on a real anonymous mapping; faults per second."""
    mem = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        mem.madvise(mmap.MADV_NOHUGEPAGE)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = now()
        for off in range(0, size, PAGE_SIZE):
            mem[off] = 1
        elapsed = now() - t0
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    finally:
        mem.close()
    pages = size // PAGE_SIZE
    if faults < pages:
        raise RuntimeError(f"kernel: {faults} minor faults for {pages} pages (huge pages?)")
    return pages / elapsed


def run(mib: int = 256, repeats: int = 3) -> list[Result]:
    """Both figures: the best of ``repeats`` alternating runs each."""
    size = mib * MIB
    sims, kernels = [], []
    for _ in range(repeats):
        kernels.append(kernel_faults_per_second(size))
        sims.append(sim_faults_per_second(size))
    sim, sim_spread = best_and_spread(sims)
    kernel, kernel_spread = best_and_spread(kernels)
    return [
        Result(
            f"page faults, {mib} MiB private anon",
            "faults/s",
            sim,
            kernel,
            target="sim/kernel >= 0.5",
            met=sim >= 0.5 * kernel,
            note=f"simulator {sim_spread}; kernel {kernel_spread}",
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="mapping size (MiB)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (best counts)")
    args = parser.parse_args(argv)
    print(table(run(args.mib, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
