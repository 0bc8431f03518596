"""/proc/<pid>/maps, smaps and pagemap: their format and what they say in known situations."""

from __future__ import annotations

import itertools
import os

from helpers import (
    ANON,
    MAPS_NAME_INDEX,
    PAGE,
    RW,
    SHARED_ANON,
    all_maps,
    fixed_anon,
    guarded,
    maps_in,
    new_file,
    pattern,
    smaps_at,
    sparse_file,
    vma_at,
)
from mmapsim import (
    MAP_FIXED,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MAP_SHARED,
    O_RDONLY,
    O_RDWR,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)

DATA = pattern(4 * PAGE)


# -- maps: the format ----------------------------------------------------------------


def test_every_maps_line_has_the_kernel_layout(machine):
    """Each maps line is 'start-end perms offset dev inode', then the name at column 74."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    p.mmap(0, PAGE, RW, SHARED_ANON)
    p.mmap(0, PAGE, RW, ANON)
    lines = all_maps(p)
    assert lines
    for m in lines:
        prefix = f"{m.start:08x}-{m.end:08x} {m.perms} {m.offset:08x} {m.dev} {m.inode} "
        assert m.raw.startswith(prefix)
        if len(m.raw) == len(prefix):
            assert m.name == ""
        else:
            assert m.raw[len(prefix) : MAPS_NAME_INDEX] == " " * (MAPS_NAME_INDEX - len(prefix))
            assert m.raw[MAPS_NAME_INDEX] != " "
        assert m.start < m.end
        assert m.start % PAGE == 0
        assert m.end % PAGE == 0
    assert [m.start for m in lines] == sorted(m.start for m in lines)
    assert all(a.end <= b.start for a, b in itertools.pairwise(lines))


def test_maps_line_of_a_file_mapping(machine):
    """A file mapping's line carries its offset, the file's device and inode, and its path."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, PAGE)
    st = p.fstat(fd)
    line = vma_at(p, a)
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
    head = f"{a:08x}-{a + 2 * PAGE:08x} rw-s 00001000 {dev} {st.st_ino}"
    assert line.raw == head.ljust(MAPS_NAME_INDEX) + "/tmp/f"
    assert p.maps().count("\n") == len(all_maps(p))
    assert p.maps().endswith("\n")


def test_maps_line_of_anonymous_memory_ends_with_a_space(machine):
    """A private anonymous mapping shows offset 0, device 00:00, inode 0 and no name."""
    p = machine.spawn()
    a = fixed_anon(p, guarded(p, 2), 2)
    line = vma_at(p, a)
    assert line.raw == f"{a:08x}-{a + 2 * PAGE:08x} rw-p 00000000 00:00 0 "


def test_maps_perms_show_each_protection(machine):
    """The perms field shows r, w, x and p (private) or s (shared)."""
    p = machine.spawn()
    base = guarded(p, 5)
    cases = [
        (PROT_READ, ANON, "r--p"),
        (PROT_READ | PROT_EXEC, ANON, "r-xp"),
        (PROT_WRITE, SHARED_ANON, "-w-s"),
        (PROT_NONE, SHARED_ANON, "---s"),
        (RW | PROT_EXEC, SHARED_ANON, "rwxs"),
    ]
    for i, (prot, flags, _) in enumerate(cases):
        p.mmap(base + i * PAGE, PAGE, prot, flags | MAP_FIXED)
    assert [vma_at(p, base + i * PAGE).perms for i in range(5)] == [c[2] for c in cases]


def test_private_file_mapping_shows_p_and_a_shared_one_s(machine):
    """A private file mapping shows 'p', a shared one 's', both with the file's name."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    b = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    assert (vma_at(p, a).perms, vma_at(p, a).name) == ("rw-p", "/tmp/f")
    assert (vma_at(p, b).perms, vma_at(p, b).name) == ("rw-s", "/tmp/f")


def test_shared_mapping_of_a_read_only_fd_shows_s(machine):
    """A read-only MAP_SHARED mapping of an O_RDONLY file still shows 's'."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA, O_RDONLY)
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert vma_at(p, a).perms == "r--s"


def test_every_process_has_a_heap_and_a_stack(machine):
    """maps names the [heap] and the [stack]; the stack lies above the heap."""
    p = machine.spawn()
    names = {m.name: m for m in all_maps(p)}
    assert "[heap]" in names
    assert "[stack]" in names
    assert names["[heap]"].end < names["[stack]"].start
    assert names["[stack]"].perms == "rw-p"


# -- maps: merging ---------------------------------------------------------------------


def test_adjacent_anonymous_mappings_with_the_same_prot_merge(machine):
    """Two adjacent private anonymous mmaps with the same protection show as one line."""
    p = machine.spawn()
    a = guarded(p, 2)
    fixed_anon(p, a, 1)
    fixed_anon(p, a + PAGE, 1)
    [line] = maps_in(p, a, a + 2 * PAGE)
    assert (line.start, line.end) == (a, a + 2 * PAGE)


def test_adjacent_anonymous_mappings_with_different_prot_stay_apart(machine):
    """Two adjacent private anonymous mmaps with different protections show as two lines."""
    p = machine.spawn()
    a = guarded(p, 2)
    fixed_anon(p, a, 1)
    fixed_anon(p, a + PAGE, 1, PROT_READ)
    lines = maps_in(p, a, a + 2 * PAGE)
    assert [(m.start, m.end, m.perms) for m in lines] == [
        (a, a + PAGE, "rw-p"),
        (a + PAGE, a + 2 * PAGE, "r--p"),
    ]


def test_file_mappings_through_the_same_fd_with_contiguous_offsets_merge(machine):
    """Two adjacent mappings of one fd at contiguous offsets show as one line."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = guarded(p, 2)
    p.mmap(a, PAGE, RW, MAP_SHARED | MAP_FIXED, fd, 0)
    p.mmap(a + PAGE, PAGE, RW, MAP_SHARED | MAP_FIXED, fd, PAGE)
    [line] = maps_in(p, a, a + 2 * PAGE)
    assert (line.start, line.end, line.offset, line.name) == (a, a + 2 * PAGE, 0, "/tmp/f")


def test_file_mappings_with_non_contiguous_offsets_stay_apart(machine):
    """Two adjacent mappings of one fd at offsets that do not follow on stay two lines."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    a = guarded(p, 2)
    p.mmap(a, PAGE, RW, MAP_SHARED | MAP_FIXED, fd, 0)
    p.mmap(a + PAGE, PAGE, RW, MAP_SHARED | MAP_FIXED, fd, 2 * PAGE)
    assert [m.offset for m in maps_in(p, a, a + 2 * PAGE)] == [0, 2 * PAGE]


def test_file_mappings_through_different_opens_stay_apart(machine):
    """Two adjacent mappings of one file through different open() calls stay two lines."""
    p = machine.spawn()
    fd1 = new_file(machine, p, "/tmp/f", DATA)
    fd2 = p.open("/tmp/f", O_RDWR)
    a = guarded(p, 2)
    for flags in (MAP_SHARED, MAP_PRIVATE):
        p.mmap(a, PAGE, RW, flags | MAP_FIXED, fd1, 0)
        p.mmap(a + PAGE, PAGE, RW, flags | MAP_FIXED, fd2, PAGE)
        lines = maps_in(p, a, a + 2 * PAGE)
        assert [(m.start, m.offset) for m in lines] == [(a, 0), (a + PAGE, PAGE)]
        assert lines[0].inode == lines[1].inode


def test_shared_anonymous_mappings_never_merge(machine):
    """Adjacent shared anonymous mappings stay apart, each named '/dev/zero (deleted)'."""
    p = machine.spawn()
    a = guarded(p, 2)
    fixed_anon(p, a, 1, RW, SHARED_ANON)
    fixed_anon(p, a + PAGE, 1, RW, SHARED_ANON)
    lines = maps_in(p, a, a + 2 * PAGE)
    assert [(m.start, m.end) for m in lines] == [(a, a + PAGE), (a + PAGE, a + 2 * PAGE)]
    for m in lines:
        assert (m.perms, m.offset, m.name) == ("rw-s", 0, "/dev/zero (deleted)")
        assert m.inode != 0
    assert lines[0].inode != lines[1].inode


# -- smaps --------------------------------------------------------------------------


def _counts(p, addr):
    s = smaps_at(p, addr)
    keys = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")
    return {k: s[k] for k in (*keys, "Anonymous")}


def _expect(rss=0, pss=0, sc=0, sd=0, pc=0, pd=0, anon=0):
    return {
        "Rss": rss,
        "Pss": pss,
        "Shared_Clean": sc,
        "Shared_Dirty": sd,
        "Private_Clean": pc,
        "Private_Dirty": pd,
        "Anonymous": anon,
    }


def test_smaps_size_is_the_mapping_length(machine):
    """smaps' Size is the mapping's length in kB; untouched memory has no Rss."""
    p = machine.spawn()
    a = fixed_anon(p, guarded(p, 3), 3)
    s = smaps_at(p, a)
    assert s["Size"] == 3 * PAGE // 1024
    assert s["KernelPageSize"] == 4
    assert s["MMUPageSize"] == 4
    assert _counts(p, a) == _expect()


def test_smaps_written_anonymous_page_is_private_dirty(machine):
    """A written private anonymous page counts as Rss, Pss, Private_Dirty and Anonymous."""
    p = machine.spawn()
    a = fixed_anon(p, guarded(p, 2), 2)
    p.store(a, b"x")
    assert _counts(p, a) == _expect(rss=4, pss=4, pd=4, anon=4)


def test_smaps_does_not_count_the_zero_frame(machine):
    """Anonymous pages that were only read (the zero frame) count for nothing."""
    p = machine.spawn()
    a = fixed_anon(p, guarded(p, 2), 2)
    p.load(a, 2 * PAGE)
    assert _counts(p, a) == _expect()


def test_smaps_after_fork_a_touched_anonymous_page_is_shared_dirty(machine):
    """After fork a written anonymous page is Shared_Dirty in both, Pss half a page."""
    parent = machine.spawn()
    a = fixed_anon(parent, guarded(parent, 1), 1)
    parent.store(a, b"x")
    child = parent.fork()
    for p in (parent, child):
        assert _counts(p, a) == _expect(rss=4, pss=2, sd=4, anon=4)
    child.store(a, b"y")
    for p in (parent, child):
        assert _counts(p, a) == _expect(rss=4, pss=4, pd=4, anon=4)


def test_smaps_after_fork_the_child_page_is_unreferenced_until_touched(machine):
    """fork copies page-table entries marked old: the child's pages are not Referenced."""
    parent = machine.spawn()
    a = fixed_anon(parent, guarded(parent, 1), 1)
    parent.store(a, b"x")
    child = parent.fork()
    assert smaps_at(child, a)["Referenced"] == 0
    assert smaps_at(parent, a)["Referenced"] == 4
    child.load(a, 1)
    assert smaps_at(child, a)["Referenced"] == 4


def test_smaps_a_read_file_page_is_clean(machine):
    """A file page that was only read is clean: Private_Clean while one process maps it."""
    p = machine.spawn()
    fd = sparse_file(p, "/tmp/f", PAGE)
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    p.load(a, 1)
    assert _counts(p, a) == _expect(rss=4, pss=4, pc=4)


def test_smaps_a_file_page_read_by_two_processes_is_shared_clean(machine):
    """A file page read through mappings in two processes is Shared_Clean, Pss half."""
    p, q = machine.spawn(), machine.spawn()
    fd = sparse_file(p, "/tmp/f", PAGE)
    a = p.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd, 0)
    qfd = q.open("/tmp/f", O_RDONLY)
    b = q.mmap(0, PAGE, PROT_READ, MAP_SHARED, qfd, 0)
    p.load(a, 1)
    q.load(b, 1)
    assert _counts(p, a) == _expect(rss=4, pss=2, sc=4)
    assert _counts(q, b) == _expect(rss=4, pss=2, sc=4)


def test_smaps_a_stored_shared_file_page_is_dirty_not_anonymous(machine):
    """A shared file page written through the mapping is Private_Dirty, not Anonymous."""
    p = machine.spawn()
    fd = sparse_file(p, "/tmp/f", PAGE)
    a = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.store(a, b"x")
    assert _counts(p, a) == _expect(rss=4, pss=4, pd=4)


def test_smaps_a_copied_private_file_page_is_anonymous(machine):
    """A private file page after its copy-on-write is Anonymous and Private_Dirty."""
    p = machine.spawn()
    fd = sparse_file(p, "/tmp/f", PAGE)
    a = p.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    p.store(a, b"x")
    assert _counts(p, a) == _expect(rss=4, pss=4, pd=4, anon=4)


def test_smaps_shared_anonymous_memory_is_not_anonymous(machine):
    """Shared anonymous memory is counted as shmem, not as Anonymous."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, SHARED_ANON)
    p.store(a, b"x")
    child = p.fork()
    child.load(a, 1)
    assert _counts(p, a) == _expect(rss=4, pss=2, sd=4)


def test_smaps_locked_mapping_counts_every_page_as_locked(machine):
    """A MAP_LOCKED mapping's pages are resident and all Locked."""
    p = machine.spawn()
    a = p.mmap(0, 2 * PAGE, RW, SHARED_ANON | MAP_LOCKED)
    s = smaps_at(p, a)
    assert s["Rss"] == 8
    assert s["Locked"] == 8


def _vmflags(p, addr):
    inside = False
    for line in p.smaps().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:
            inside = int(head.split("-")[0], 16) == addr
        elif inside and line.startswith("VmFlags:"):
            return line.split()[1:]
    raise AssertionError(f"no VmFlags for {addr:#x}")


def test_smaps_vmflags_of_each_kind_of_mapping(machine):
    """VmFlags name the mapping's flags: rd wr ex sh, may-flags, ac, lo, nr."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA)
    ro = p.open("/tmp/f", O_RDONLY)
    cases = [
        (p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0), "rd wr sh mr mw me ms"),
        (p.mmap(0, PAGE, PROT_READ, MAP_SHARED, ro, 0), "rd mr me ms"),
        (p.mmap(0, PAGE, RW, MAP_PRIVATE, ro, 0), "rd wr mr mw me ac"),
        (p.mmap(0, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0), "rd ex mr mw me"),
        (p.mmap(0, PAGE, RW, SHARED_ANON), "rd wr sh mr mw me ms"),
        (p.mmap(0, PAGE, RW, SHARED_ANON | MAP_LOCKED), "rd wr sh mr mw me ms lo"),
        (fixed_anon(p, guarded(p, 1), 1), "rd wr mr mw me ac"),
        (p.mmap(0, PAGE, PROT_READ, ANON | MAP_NORESERVE), "rd mr mw me nr"),
    ]
    assert [" ".join(_vmflags(p, a)) for a, _ in cases] == [flags for _, flags in cases]


# -- pagemap ------------------------------------------------------------------------


def test_pagemap_of_an_untouched_page(machine):
    """An untouched page is not present and has no frame number."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, SHARED_ANON)
    info = p.pagemap(a)
    assert (info.present, info.pfn, info.file_or_shared, info.exclusive) == (
        False,
        None,
        False,
        False,
    )


def test_pagemap_of_a_file_page_in_one_and_in_two_processes(machine):
    """A file page mapped by one process is exclusive; mapped by two, it is not, same pfn."""
    p, q = machine.spawn(), machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:PAGE])
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    p.load(a, 1)
    info = p.pagemap(a)
    assert info.present
    assert info.file_or_shared
    assert info.exclusive
    b = q.mmap(0, PAGE, PROT_READ, MAP_SHARED, q.open("/tmp/f", O_RDONLY), 0)
    q.load(b, 1)
    assert q.pagemap(b).pfn == p.pagemap(a).pfn
    assert not p.pagemap(a).exclusive
    assert not q.pagemap(b).exclusive


def test_pagemap_of_the_same_page_at_two_addresses(machine):
    """One file page mapped at two addresses of one process is one frame, not exclusive."""
    p = machine.spawn()
    fd = new_file(machine, p, "/tmp/f", DATA[:PAGE])
    a = p.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    b = p.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    p.load(a, 1)
    p.store(b, b"alias")
    assert p.load(a, 5) == b"alias"
    assert p.pagemap(a).pfn == p.pagemap(b).pfn
    assert not p.pagemap(a).exclusive


def test_pagemap_of_a_written_anonymous_page(machine):
    """A written private anonymous page is present, exclusive, and not a file page."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    p.store(a, b"x")
    info = p.pagemap(a)
    assert (info.present, info.file_or_shared, info.exclusive) == (True, False, True)
    assert info.pfn is not None


def test_a_forked_touched_anonymous_mapping_does_not_merge_in_the_child(machine):
    """In a child, an inherited written anonymous VMA no longer merges with a new neighbour."""
    parent = machine.spawn()
    r = guarded(parent, 2)
    fixed_anon(parent, r + PAGE, 1)
    parent.store(r + PAGE, b"x")
    child = parent.fork()
    fixed_anon(child, r, 1)
    assert [(m.start, m.end) for m in maps_in(child, r, r + 2 * PAGE)] == [
        (r, r + PAGE),
        (r + PAGE, r + 2 * PAGE),
    ]
    fixed_anon(parent, r, 1)
    assert [(m.start, m.end) for m in maps_in(parent, r, r + 2 * PAGE)] == [(r, r + 2 * PAGE)]


def test_a_forked_untouched_anonymous_mapping_still_merges_in_the_child(machine):
    """An inherited anonymous VMA that was never written merges with a new neighbour."""
    parent = machine.spawn()
    r = guarded(parent, 2)
    fixed_anon(parent, r + PAGE, 1)
    child = parent.fork()
    fixed_anon(child, r, 1)
    assert [(m.start, m.end) for m in maps_in(child, r, r + 2 * PAGE)] == [(r, r + 2 * PAGE)]


def test_pagemap_of_a_PROT_NONE_page_still_shows_its_frame(machine):
    """A resident page made PROT_NONE is still present in pagemap, with the same frame."""
    p = machine.spawn()
    a = p.mmap(0, PAGE, RW, ANON)
    p.store(a, b"x")
    pfn = p.pagemap(a).pfn
    p.mprotect(a, PAGE, PROT_NONE)
    assert p.pagemap(a).present
    assert p.pagemap(a).pfn == pfn
