"""Memory: metadata per touched page, and a 64 TiB sparse mapping with 1,000 pages touched.

Each figure is measured in a fresh child process, so that nothing left over
from another measurement (freed but not returned memory) hides a cost.

- Per touched page: a private anonymous mapping of N pages, one byte written
  to each.  The simulator's metadata is the Python heap growth that
  ``tracemalloc`` sees, the page's own 4 KiB not counted: frames kept in
  ``mmap`` banks are invisible to tracemalloc; were they in the traced heap
  (a growth of 4 KiB a page or more), 4 KiB a page is taken off.  The kernel's
  is the growth of ``RssAnon + VmPTE`` (/proc/self/status) over a real
  mapping, less 4 KiB a page: its page tables.  A second row gives what each
  page costs the computer in all, ``RssAnon + VmPTE`` growth, frame included,
  on both sides.
- Sparse: a 64 TiB ``MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE`` mapping, with
  one byte written to 1,000 pages spread evenly across it.  For the simulator,
  everything counts: the measurement starts before ``Machine()``.

Targets (issue 14): at most 128 B of simulator metadata per touched page; the
sparse mapping under 10 MiB in all.  (Sizes, not times: one trial each.)

    python benchmarks/bench_memory.py [--pages 16384]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Callable

from _harness import (
    KIB,
    MAP_ANONYMOUS,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MIB,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    TIB,
    Libc,
    Result,
    self_status_kib,
    table,
)
from mmapsim import Machine

SPARSE_SIZE = 64 * TIB
SPARSE_TOUCHED = 1000
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


def _anon_kib() -> int:
    """What this process's memory costs the computer now: RssAnon + VmPTE (KiB)."""
    return self_status_kib("RssAnon") + self_status_kib("VmPTE")


def _sparse_offsets() -> range:
    stride = (SPARSE_SIZE // SPARSE_TOUCHED) & ~(PAGE_SIZE - 1)
    return range(0, stride * SPARSE_TOUCHED, stride)


def _measure(how: str, body: Callable[[], object]) -> int:
    """Bytes that ``body`` leaves allocated, by tracemalloc or by RssAnon + VmPTE."""
    if how == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        keep = body()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    else:
        before = _anon_kib() * KIB
        keep = body()
        after = _anon_kib() * KIB
    del keep
    return after - before


# -- what the children measure --------------------------------------------------


def sim_per_page(how: str, pages: int) -> float:
    """Bytes per touched page of a simulated private anonymous mapping."""
    m = Machine()
    p = m.spawn()
    base = p.mmap(0, (pages + 1) * PAGE_SIZE, RW, ANON)
    p.store(base + pages * PAGE_SIZE, b"\x01")  # warm every code path first

    def touch() -> None:
        store = p.store
        for va in range(base, base + pages * PAGE_SIZE, PAGE_SIZE):
            store(va, b"\x01")

    return _measure(how, touch) / pages


def sim_sparse(how: str) -> float:
    """Bytes for a whole machine with a 64 TiB sparse mapping, 1,000 pages touched."""

    def build() -> Machine:
        m = Machine()
        p = m.spawn()
        flags = ANON | MAP_NORESERVE
        base = p.mmap(0, SPARSE_SIZE, RW, flags)
        for off in _sparse_offsets():
            p.store(base + off, b"\x01")
        return m

    return float(_measure(how, build))


def kernel_per_page(pages: int) -> float:
    """Bytes per touched page of a real private anonymous mapping."""
    libc = Libc()
    size = pages * PAGE_SIZE
    va = libc.mmap(0, size, RW, ANON)
    libc.madvise(va, size, 15)  # MADV_NOHUGEPAGE: 4 KiB pages, as the simulator has

    def touch() -> None:
        for off in range(0, size, PAGE_SIZE):
            ctypes.memset(va + off, 1, 1)

    cost = _measure("rss", touch)
    libc.munmap(va, size)
    return cost / pages


def kernel_sparse() -> float:
    """Bytes for a real 64 TiB sparse mapping with 1,000 pages touched."""
    libc = Libc()

    def build() -> int:
        va = libc.mmap(0, SPARSE_SIZE, RW, ANON | MAP_NORESERVE)
        for off in _sparse_offsets():
            ctypes.memset(va + off, 1, 1)
        return va

    return float(_measure("rss", build))


def _child(kind: str, pages: int) -> float:
    match kind:
        case "sim-page-tracemalloc":
            return sim_per_page("tracemalloc", pages)
        case "sim-page-rss":
            return sim_per_page("rss", pages)
        case "sim-sparse-tracemalloc":
            return sim_sparse("tracemalloc")
        case "sim-sparse-rss":
            return sim_sparse("rss")
        case "kernel-page":
            return kernel_per_page(pages)
        case "kernel-sparse":
            return kernel_sparse()
    raise ValueError(kind)


def in_child(kind: str, pages: int) -> float:
    """Run one measurement in a fresh Python process."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--pages", str(pages)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(out.stdout))


def run(pages: int = 16384) -> list[Result]:
    """Metadata per page (tracemalloc), all per page (RSS), the sparse machine both ways."""
    kernel_page = in_child("kernel-page", pages)
    kernel_sparse_bytes = in_child("kernel-sparse", pages)
    traced = in_child("sim-page-tracemalloc", pages)
    metadata = traced - PAGE_SIZE if traced >= PAGE_SIZE else traced
    rss = in_child("sim-page-rss", pages)
    results = [
        Result(
            "metadata per touched page (tracemalloc)",
            "B",
            metadata,
            kernel_page - PAGE_SIZE,
            target="<= 128 B",
            met=metadata <= 128,
            note=f"{pages:,} pages touched; kernel: its page tables (RSS growth less 4 KiB)",
            higher=False,
        ),
        Result(
            "memory per touched page, frame included (RSS)",
            "B",
            rss,
            kernel_page,
            higher=False,
        ),
    ]
    for how in ("tracemalloc", "rss"):
        sim = in_child(f"sim-sparse-{how}", pages)
        results.append(
            Result(
                f"64 TiB sparse, 1,000 pages touched ({how})",
                "B",
                sim,
                kernel_sparse_bytes,
                target="< 10 MiB",
                met=sim < 10 * MIB,
                note=(
                    "kernel: the touched pages and their page tables (RssAnon + VmPTE)"
                    if how == "rss"
                    else ""
                ),
                higher=False,
            )
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=16384, help="pages touched (per page)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.pages)))
        return 0
    print(table(run(args.pages)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
