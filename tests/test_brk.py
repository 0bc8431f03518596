"""brk(2) and sbrk(3): the heap grows and shrinks as on Linux."""

from __future__ import annotations

import errno

import pytest

from elfgen import static_program
from mmapsim import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, Machine, ProcessKilled

pytestmark = pytest.mark.simonly
PAGE = 4096
BSS_END = 0x405000  # the test program's .bss ends here, page aligned


def _exec(m: Machine):  # type: ignore[no-untyped-def]
    m.write_file("/tmp/prog", static_program())
    p = m.spawn()
    p.chmod("/tmp/prog", 0o755)
    p.execve("/tmp/prog")
    return p


def _line(p, va: int) -> str:  # type: ignore[no-untyped-def]
    return next(
        ln
        for ln in p.maps().splitlines()
        if int(ln.split("-")[0], 16) <= va < int(ln.split("-")[1].split()[0], 16)
    )


def test_the_break_starts_after_bss(sim: Machine) -> None:
    """brk(0) answers the break, at the page after .bss; no VMA is [heap] yet."""
    p = _exec(sim)
    assert p.brk(0) == BSS_END
    assert "[heap]" not in p.maps()


def test_growing_the_break_maps_heap_merged_with_bss(sim: Machine) -> None:
    """The heap grows out of the anonymous .bss, and the VMA is [heap]."""
    p = _exec(sim)
    assert p.brk(BSS_END + 3 * PAGE + 5) == BSS_END + 3 * PAGE + 5
    line = _line(p, BSS_END)
    assert line.startswith(f"{0x402000:08x}-{BSS_END + 4 * PAGE:08x} rw-p")
    assert line.endswith("[heap]")
    p.store(BSS_END + 3 * PAGE, b"heap")
    assert p.load(BSS_END + 3 * PAGE, 4) == b"heap"


def test_shrinking_the_break_unmaps_the_pages(sim: Machine) -> None:
    """Pages wholly above a lowered break are gone; an access there is SIGSEGV."""
    p = _exec(sim)
    p.brk(BSS_END + 4 * PAGE)
    p.brk(BSS_END + PAGE)
    assert p.brk(0) == BSS_END + PAGE
    with pytest.raises(ProcessKilled):
        p.load(BSS_END + 2 * PAGE, 1)


def test_shrinking_to_the_start_leaves_no_heap(sim: Machine) -> None:
    """Back at its start, the heap is empty and nothing is named [heap]."""
    p = _exec(sim)
    p.brk(BSS_END + 2 * PAGE)
    assert p.brk(BSS_END) == BSS_END
    assert "[heap]" not in p.maps()


def test_brk_below_the_start_is_refused(sim: Machine) -> None:
    """A break below the heap's start leaves the break as it was."""
    p = _exec(sim)
    assert p.brk(0x400000) == BSS_END


def test_brk_into_a_mapping_is_refused(sim: Machine) -> None:
    """The heap does not grow into the next mapping; sbrk then fails with ENOMEM."""
    p = _exec(sim)
    p.mmap(BSS_END + 8 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
    assert p.brk(BSS_END + 16 * PAGE) == BSS_END
    with pytest.raises(OSError) as e:
        p.sbrk(16 * PAGE)
    assert e.value.errno == errno.ENOMEM


def test_sbrk_returns_the_old_break(sim: Machine) -> None:
    """sbrk(n) moves the break by n and answers where it was."""
    p = _exec(sim)
    assert p.sbrk(100) == BSS_END
    assert p.sbrk(0) == BSS_END + 100
    assert p.sbrk(-100) == BSS_END + 100
    assert p.brk(0) == BSS_END


def test_a_spawned_process_grows_its_heap(sim: Machine) -> None:
    """A spawned process's break is the end of its 132 KiB heap, and it moves."""
    p = sim.spawn()
    heap = next(ln for ln in p.maps().splitlines() if ln.endswith("[heap]"))
    end = int(heap.split("-")[1].split()[0], 16)
    assert p.sbrk(PAGE) == end
    heap = next(ln for ln in p.maps().splitlines() if ln.endswith("[heap]"))
    assert int(heap.split("-")[1].split()[0], 16) == end + PAGE


def test_a_forked_child_has_its_parents_break(sim: Machine) -> None:
    """fork copies the break."""
    p = _exec(sim)
    p.brk(BSS_END + PAGE)
    assert p.fork().brk(0) == BSS_END + PAGE
