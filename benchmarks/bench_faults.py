"""Page faults: a write fault on a missing page, a store to a present page, copy-on-write.

Every trial maps a fresh private anonymous region of ``--mib`` MiB and writes
one byte to each page, twice: the first pass is a write fault on a missing page
(a zeroed frame is allocated), the second a store to a present, writable page.
A third figure forks first and then writes every page in the parent: a
copy-on-write fault each (the child still maps every frame).

The simulator: ``p.store(va, b"\\x01")`` on a ``Machine().spawn()`` process (and
``p.fork()`` for copy-on-write).  The kernel: the same loop over a real mapping
made by Python's ``mmap`` module in this process, transparent huge pages refused
(MADV_NOHUGEPAGE) so that each page faults on its own, the minor-fault count
checked; for copy-on-write a real ``os.fork`` whose child waits on a pipe.

Targets (issue 14): write faults and copy-on-write faults at least the kernel's rate.

    python benchmarks/bench_faults.py [--mib 128] [--trials 5]
"""

from __future__ import annotations

import argparse
import mmap
import os
import resource
import sys

from _harness import MIB, PAGE_SIZE, TRIALS, Result, cpu, interleaved, result, table
from mmapsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


def _minflt() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def sim_faults(size: int) -> tuple[float, float]:
    """(write faults per second, stores to present pages per second) on the simulator."""
    with Machine() as m:
        p = m.spawn()
        base = p.mmap(0, size, RW, ANON)
        store, one = p.store, b"\x01"
        pages = range(base, base + size, PAGE_SIZE)
        t0 = cpu()
        for va in pages:
            store(va, one)
        t1 = cpu()
        for va in pages:
            store(va, one)
        t2 = cpu()
        _check_rss(p.smaps(), base, size)
    return len(pages) / (t1 - t0), len(pages) / (t2 - t1)


def _check_rss(smaps: str, base: int, size: int) -> None:
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


def kernel_faults(size: int) -> tuple[float, float]:
    """The same two passes on a real anonymous mapping of this process."""
    mem = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        mem.madvise(mmap.MADV_NOHUGEPAGE)
        offsets = range(0, size, PAGE_SIZE)
        before = _minflt()
        t0 = cpu()
        for off in offsets:
            mem[off] = 1
        t1 = cpu()
        faults = _minflt() - before
        for off in offsets:
            mem[off] = 1
        t2 = cpu()
    finally:
        mem.close()
    if faults < len(offsets):
        raise RuntimeError(f"kernel: {faults} minor faults for {len(offsets)} pages (huge pages?)")
    return len(offsets) / (t1 - t0), len(offsets) / (t2 - t1)


def sim_cow(size: int) -> float:
    """Copy-on-write faults per second: fork, then the parent writes every page."""
    with Machine() as m:
        p = m.spawn()
        base = p.mmap(0, size, RW, ANON)
        pages = range(base, base + size, PAGE_SIZE)
        store, one = p.store, b"\x01"
        for va in pages:
            store(va, one)
        child = p.fork()
        t0 = cpu()
        for va in pages:
            store(va, b"\x02")
        elapsed = cpu() - t0
        if child.load(base, 1) != one:
            raise RuntimeError("simulator: the child sees the parent's write")
    return len(pages) / elapsed


def kernel_cow(size: int) -> float:
    """The same on this process: a real fork whose child waits on a pipe meanwhile."""
    mem = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    mem.madvise(mmap.MADV_NOHUGEPAGE)
    offsets = range(0, size, PAGE_SIZE)
    for off in offsets:
        mem[off] = 1
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: keep every frame mapped until the parent is done
        os.close(wfd)
        os.read(rfd, 1)
        os._exit(0 if mem[0] == 1 else 1)
    os.close(rfd)
    try:
        before = _minflt()
        t0 = cpu()
        for off in offsets:
            mem[off] = 2
        elapsed = cpu() - t0
        faults = _minflt() - before
    finally:
        os.close(wfd)
        _, status = os.waitpid(pid, 0)
        mem.close()
    if faults < len(offsets) or os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"kernel: {faults} copy-on-write faults for {len(offsets)} pages")
    return len(offsets) / elapsed


def run(mib: int = 128, trials: int = TRIALS) -> list[Result]:
    """Write fault, store to a present page, copy-on-write fault: medians of ``trials``."""
    size = mib * MIB
    sims, kernels = interleaved(lambda: sim_faults(size), lambda: kernel_faults(size), trials)
    faults = result(
        f"private anonymous write fault ({mib} MiB)",
        "/s",
        [s[0] for s in sims],
        [k[0] for k in kernels],
        target=">= 1.0x kernel",
        met=lambda s, k: s >= k,
    )
    present = result(
        "store to a present page",
        "/s",
        [s[1] for s in sims],
        [k[1] for k in kernels],
    )
    cow_sims, cow_kernels = interleaved(lambda: sim_cow(size), lambda: kernel_cow(size), trials)
    cow = result(
        f"copy-on-write fault after fork ({mib} MiB)",
        "/s",
        cow_sims,
        cow_kernels,
        target=">= 1.0x kernel",
        met=lambda s, k: s >= k,
    )
    return [faults, present, cow]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=128, help="mapping size (MiB)")
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials per side")
    args = parser.parse_args(argv)
    print(table(run(args.mib, args.trials)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
