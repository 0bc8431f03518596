"""Shared file read faults: one byte read from every page of a MAP_SHARED file mapping.

Every trial maps a ``--mib`` MiB file ``PROT_READ, MAP_SHARED`` and loads one
byte of each page, in order: a read fault on a page not yet mapped (the
kernel's fault-around may map its neighbours at the same time).  Two cases:

- cached: the file's pages are in the page cache (just written);
- not cached: the page cache holds none of them, each page comes from the disk.

The simulator: ``m.write_file`` then ``p.load``; for "not cached", the disk
after ``m.sync()`` is booted into a new machine (``Machine.boot``), whose page
cache is empty.  The kernel: a file in the temporary folder, read through
Python's ``mmap`` module; for "not cached", ``fsync`` then
``posix_fadvise(POSIX_FADV_DONTNEED)`` drops its pages from the page cache
first (the major-fault count says how many were read from the disk; the
kernel's readahead reads many per fault).

    python benchmarks/bench_files.py [--mib 16] [--trials 5]
"""

from __future__ import annotations

import argparse
import mmap
import os
import resource
import sys
import tempfile
from functools import partial

from _harness import MIB, PAGE_SIZE, TRIALS, Result, cpu, interleaved, result, table
from mmapsim import MAP_SHARED, O_RDONLY, PROT_READ, Machine

PATH = "/tmp/bench-data"


def _data(size: int) -> bytes:
    """``size`` bytes, every page starting with a byte of its own."""
    page = bytes(range(256)) * (PAGE_SIZE // 256)
    return page * (size // PAGE_SIZE)


def _sim_reads(m: Machine, size: int) -> float:
    p = m.spawn()
    fd = p.open(PATH, O_RDONLY)
    base = p.mmap(0, size, PROT_READ, MAP_SHARED, fd, 0)
    load = p.load
    pages = range(base, base + size, PAGE_SIZE)
    t0 = cpu()
    for va in pages:
        load(va, 1)
    elapsed = cpu() - t0
    if p.load(base + size - PAGE_SIZE, 2) != b"\x00\x01":
        raise RuntimeError("simulator: the mapping does not show the file")
    return len(pages) / elapsed


def sim_read(size: int, cached: bool) -> float:
    """Read faults per second on the simulator, the file cached or not."""
    with Machine() as m:
        m.write_file(PATH, _data(size))
        if cached:
            return _sim_reads(m, size)
        m.sync()
        disk = m.disk_image()
    with Machine.boot(disk) as booted:
        return _sim_reads(booted, size)


def sim_read_trial(size: int, cached: bool) -> tuple[float, int]:
    """One trial on the simulator, shaped as the kernel's (no major-fault count)."""
    return sim_read(size, cached), 0


def kernel_read(folder: str, size: int, cached: bool) -> tuple[float, int]:
    """(read faults per second, major faults) on this process, the file cached or not."""
    path = os.path.join(folder, "data")
    with open(path, "wb") as f:
        f.write(_data(size))
        f.flush()
        os.fsync(f.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        if not cached:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        mem = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        offsets = range(0, size, PAGE_SIZE)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
        t0 = cpu()
        for off in offsets:
            mem[off]
        elapsed = cpu() - t0
        major = resource.getrusage(resource.RUSAGE_SELF).ru_majflt - before
        mem.close()
    finally:
        os.close(fd)
        os.unlink(path)
    return len(offsets) / elapsed, major


def run(mib: int = 16, trials: int = TRIALS) -> list[Result]:
    """Cached and not cached: medians of ``trials`` interleaved trials."""
    size = mib * MIB
    results = []
    with tempfile.TemporaryDirectory(prefix="mmapsim-bench-") as folder:
        for cached in (True, False):
            sims, kernels = interleaved(
                partial(sim_read_trial, size, cached),
                partial(kernel_read, folder, size, cached),
                trials,
            )
            majors = sorted({k[1] for k in kernels})
            results.append(
                result(
                    f"shared file read fault, {'cached' if cached else 'not cached'}",
                    "/s",
                    [s[0] for s in sims],
                    [k[0] for k in kernels],
                    note=f"{mib} MiB file; kernel major faults per trial {majors}",
                )
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=16, help="file size (MiB)")
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials per side")
    args = parser.parse_args(argv)
    print(table(run(args.mib, args.trials)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
