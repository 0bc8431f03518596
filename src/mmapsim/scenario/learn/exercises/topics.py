"""One generator per topic: a fresh scenario with questions, drawn from a seed.

Each generator asks about the same claims of the lecture for every seed (the
claims of :data:`TOPIC_CLAIMS`); the seed draws the names, the words, the
sizes, the offsets and the order of the choices.
"""

from __future__ import annotations

from collections.abc import Callable

from mmapsim.scenario.learn.exercises.sheet import PAGE, PAIRS, PATHS, Sheet, lit, round_up


def shared(s: Sheet) -> None:
    """Two unrelated processes map one file with MAP_SHARED."""
    x, y = s.rng.choice(PAIRS)
    path = s.rng.choice(PATHS)
    old, other = s.words(2, 5)
    new = old.upper()
    pad = s.rng.randrange(0, 48)  # the whole file stays short enough to type
    content = "." * pad + old + ", " + other
    a, b = pad, pad + len(old)
    s.step(f"file {path} {lit(content)}", "on disk before anything runs")
    s.step(f'{x}: fd = open("{path}", O_RDWR)')
    s.step(f"{x}: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)")
    s.claim("byte-for-byte", "load-reads-file")
    s.ask(f"{x}: p[{a}:{b}]", "a load from the mapping reads the file's bytes at that offset",
          [lit(old), lit(new), lit(other)])  # fmt: skip
    s.step(f'{y}: fd = open("{path}", O_RDONLY)', f"{y} is not related to {x}")
    s.step(f"{y}: q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)")
    s.step(f"{x}: p[{a}:{b}] = {lit(new)}", "a store: no write() call")
    s.claim("shared-same-frames", "ipc-unrelated", "fd-names-file")
    s.ask(f"{y}: q[{a}:{b}]", "both mappings are the same page of the page cache",
          [lit(old), lit(new)])  # fmt: skip
    s.step(f"{x}: f = frame(p)")
    s.ask(f"{y}: frame(q) == {x}.f", "one physical frame is behind both mappings")
    s.claim("store-writes-file", "shared-carried-to-file", "flags-shared-private", "mmio")
    s.ask(f'file("{path}")', "read() reads the page cache, which the store changed")
    s.claim("prot-mask", "no-write-segv")
    s.ask(f"{y}: perms(q)", f"{y} asked for PROT_READ only; s is for MAP_SHARED",
          [lit("r--s"), lit("rw-s"), lit("r--p")])  # fmt: skip
    s.ask(f'{y}: q[{a}] = "x"', "the mapping has no PROT_WRITE: the store faults")


def private_cow(s: Sheet) -> None:
    """Two processes map one file with MAP_PRIVATE; one writes."""
    x, y = s.rng.choice(PAIRS)
    path = s.rng.choice(PATHS)
    old, other = s.words(2, 5)
    new = s.rng.choice([old.upper(), other])
    content = f"{old} {s.words(1)[0]}"
    mode = s.rng.choice(["O_RDONLY", "O_RDWR"])
    s.step(f"file {path} {lit(content)}")
    s.step(f'{x}: fd = open("{path}", {mode})', "a private mapping may be written even so")
    s.step(f"{x}: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)")
    s.step(f'{y}: fd = open("{path}", O_RDONLY)')
    s.step(f"{y}: q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0)")
    s.step(f"{x}: p[0:5]", "a load maps the file's page")
    s.step(f"{y}: q[0:5]")
    s.step(f"{x}: f = frame(p)")
    s.claim("private-initially-shared")
    s.ask(f"{y}: frame(q) == {x}.f", "until a write, both map the page cache's page")
    s.step(f"{x}: p[0:5] = {lit(new)}")
    s.claim("private-cow")
    s.ask(f"{x}: frame(p) == f", "the store copied the page: the writer has a frame of its own")
    s.ask(f"{x}: p[0:5]", "the writer sees its own copy", [lit(old), lit(new)])
    s.claim("private-invisible", "flags-shared-private")
    s.ask(f"{y}: q[0:5]", "the copy belongs to the writer alone", [lit(old), lit(new)])
    s.claim("private-not-in-file")
    s.ask(f'file("{path}")[0:5]', "a private copy is never written back", [lit(old), lit(new)])
    s.ask(f"{x}: msync(p, 4096, MS_SYNC)", "msync succeeds, but a private page has nowhere to go")
    s.claim("private-program")
    s.step(f"{x}: t = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0)",
           "as execve maps a program's text")  # fmt: skip
    s.ask(f"{x}: perms(t)", "a program's text: executable, private (p), from its file",
          [lit("r-xp"), lit("r-xs"), lit("rw-p")])  # fmt: skip


def anonymous(s: Sheet) -> None:
    """Anonymous memory, private and shared, across a fork."""
    x, _ = s.rng.choice(PAIRS)
    child = s.rng.choice(["C", "Child", "Kid"])
    pages = s.rng.randint(1, 4)
    i = s.rng.randrange(pages * PAGE)
    k, j = s.rng.randrange(16), s.rng.randrange(16)
    v1, v2, v3, v4 = (s.rng.randint(1, 999) for _ in range(4))
    fd = s.rng.randint(3, 99)
    s.step(f"{x}: a = mmap(NULL, {pages * PAGE}, PROT_READ | PROT_WRITE, "
           "MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)")  # fmt: skip
    s.claim("two-kinds", "anon-zero")
    s.ask(f"{x}: a[{i}]", "no file behind it: a fresh page is zero-filled")
    s.ask(f"{x}: a.int[{k}]", "four zero bytes make the int 0")
    s.claim("anon-fd-ignored")
    s.ask(f"{x}: mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, {fd}, 0) == MAP_FAILED",
          "with MAP_ANONYMOUS the fd is not looked at")  # fmt: skip
    s.step(f"{x}: m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)")
    s.step(f"{x}: a.int[{k}] = {v1}")
    s.step(f"{x}: m.int[{j}] = {v2}")
    s.step(f"{child} = fork({x})")
    s.claim("anon-private-fork", "anon-shared-fork")
    s.ask(f"{child}: a.int[{k}]", "the child starts with a copy of the parent's memory")
    s.step(f"{child}: a.int[{k}] = {v3}")
    s.step(f"{child}: m.int[{j}] = {v4}")
    s.ask(f"{x}: a.int[{k}]", "private: the child's store went to its own copy",
          [str(v1), str(v3), "0"])  # fmt: skip
    s.ask(f"{x}: m.int[{j}]", "shared: parent and child map the same frame",
          [str(v2), str(v4), "0"])  # fmt: skip
    s.ask(f"{x}: perms(m)", "shared anonymous memory is a MAP_SHARED mapping (s)",
          [lit("rw-s"), lit("rw-p")])  # fmt: skip


def fork(s: Sheet) -> None:
    """The surprises after fork: an empty page table, then copy-on-write at the first write."""
    parent, child = s.rng.choice([("P", "C"), ("Parent", "Child"), ("A", "B")])
    path = s.rng.choice(PATHS)
    old, other = s.words(2, 5)
    new, said = old.upper(), other.upper()
    s.step(f"file {path} {lit(old + ' ' + other)}")
    s.step(f'{parent}: fd = open("{path}", O_RDWR)')
    s.step(f"{parent}: s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)")
    s.step(f"{parent}: v = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)")
    s.step(f"{parent}: v[0:5]", "the parent reads: its page table maps the file's page")
    s.step(f"{parent}: fv = frame(v)")
    s.step(f"{child} = fork({parent})")
    s.claim("fork-empty-table")
    s.ask(f"{child}: frame(v) == fv",
          "fork copies no page-table entries of a file mapping: the child's are empty")  # fmt: skip
    s.ask(f"{child}: v[0:5]", "the child's load faults the same page in", [lit(old), lit(new)])
    s.ask(f"{child}: frame(v) == fv", "the fault mapped the page cache's frame, the parent's")
    s.claim("private-cow")
    s.step(f"{child}: v[0:5] = {lit(new)}")
    s.ask(f"{child}: frame(v) == fv", "the first write copies the page for the child")
    s.ask(f"{parent}: v[0:5]", "the parent keeps the file's page", [lit(old), lit(new)])
    s.claim("ipc-related")
    s.step(f"{child}: s[6:11] = {lit(said)}")
    s.ask(f"{parent}: s[6:11]", "MAP_SHARED: one page for parent and child",
          [lit(other), lit(said)])  # fmt: skip


def msync(s: Sheet) -> None:
    """Stores reach the page cache at once and the disk at writeback."""
    x, _ = s.rng.choice(PAIRS)
    path = s.rng.choice(PATHS)
    pages = s.rng.randint(1, 3)
    first, second, third = s.words(3, 5)
    length = pages * PAGE
    c = s.rng.randrange(16, length - 5)
    s.step(f"file {path} {lit(first + ' ' + second)} + " + f'"\\0" * {length - 11}')
    s.step(f'{x}: fd = open("{path}", O_RDWR)')
    s.step(f"{x}: p = mmap(NULL, {length}, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)")
    s.step(f"{x}: p[0:5] = {lit(first.upper())}")
    s.claim("store-writes-file")
    s.ask(f'file("{path}")[0:5]', "read() sees the page cache, where the store went",
          [lit(first), lit(first.upper())])  # fmt: skip
    s.ask(f'disk("{path}")[0:5]', "nothing has written the page back yet",
          [lit(first), lit(first.upper())])  # fmt: skip
    s.claim("msync-page-aligned")
    s.ask(f"{x}: msync(p + {s.rng.randrange(1, PAGE)}, {length}, MS_SYNC)",
          "msync wants a page-aligned address, as mmap returns")  # fmt: skip
    s.claim("msync-writes-back", "ms-sync-waits")
    s.ask(f"{x}: msync(p, {length}, MS_SYNC)", "the address and length mmap used")
    s.ask(f'disk("{path}")[0:5]', "MS_SYNC returns once the page is on the disk",
          [lit(first), lit(first.upper())])  # fmt: skip
    s.claim("ms-async")
    s.step(f"{x}: p[{c}:{c + 5}] = {lit(third)}")
    s.ask(f"{x}: msync(p, {length}, MS_ASYNC)", "MS_ASYNC only asks for the update")
    s.claim("ms-async-visible")
    s.ask(f'file("{path}")[{c}:{c + 5}]', "every reader of the file sees the page cache")
    s.ask(f'disk("{path}")[{c}:{c + 5}]', "MS_ASYNC returned before any writeback")
    s.claim("ms-invalidate")
    s.ask(f"{x}: msync(p, {length}, MS_INVALIDATE)", "a valid flag on its own")
    s.ask(f"{x}: msync(p, {length}, MS_SYNC | MS_ASYNC)", "MS_SYNC and MS_ASYNC exclude each other")
    s.step("crash", "a power failure: the page cache is lost")
    s.ask(f'file("{path}")[0:5] + file("{path}")[{c}:{c + 5}]',
          "only what was written back survives")  # fmt: skip


def munmap(s: Sheet) -> None:
    """Unmapping all or part of a mapping; exit and exec unmap too; close does not."""
    x, y = s.rng.choice(PAIRS)
    path = s.rng.choice(PATHS)
    count = s.rng.randint(3, 4)
    names = s.words(count, 5)
    j = s.rng.randrange(1, count)
    k = s.rng.choice([n for n in range(count) if n != j])
    content = " + ".join(f'"{w}" + "\\0" * {PAGE - 5}' for w in names)
    s.step(f"file {path} {content}")
    s.step(f'{x}: fd = open("{path}", O_RDWR)')
    s.step(f"{x}: p = mmap(NULL, {count * PAGE}, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)")
    s.step(f"{x}: close(fd)")
    s.claim("close-keeps-mapping")
    s.ask(f"{x}: p[0:5]", "the mapping holds its own reference to the file")
    s.claim("munmap-part")
    s.ask(f"{x}: munmap(p + {j * PAGE}, {PAGE})", f"page {j} of the mapping goes")
    s.ask(f"{x}: p[{k * PAGE}:{k * PAGE + 5}]", "the other pages stay mapped")
    s.ask(f"{x}: munmap(p + 1, {PAGE})", "munmap wants a page-aligned address")
    s.step(f"C = fork({x})")
    s.ask(f"C: p[{j * PAGE}]", "nothing is mapped there any more")
    s.claim("munmap-whole")
    s.ask(f"{x}: munmap(p, {count * PAGE})", "mmap's address and length: the rest goes")
    s.ask(f"{x}: perms(p)", "no mapping contains p", [lit("----"), lit("rw-s")])
    s.claim("unmapped-at-exit")
    s.step(f'{y}: fd = open("{path}", O_RDONLY)')
    s.step(f"{y}: q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)")
    s.step(f"{y}: q[0]")
    s.step(f"Z = fork({y})")
    s.step("Z: q[0]", "two processes map the page now")
    s.ask(f'{y}: smaps(q, "Shared_Clean")', "a page two processes map is shared (kB)")
    s.step("Z: exit(0)")
    s.ask(f'{y}: smaps(q, "Shared_Clean")', "Z's mappings went with it: the page is private")
    s.claim("unmapped-at-exec")
    s.step("file /tmp/prog program()", "a tiny program to exec")
    s.step(f'{y}: chmod("/tmp/prog", 0o755)')
    s.step(f'{y}: execve("/tmp/prog")')
    s.ask(f'{y}: start("{path}")', "exec replaced the address space: the file is mapped no more",
          ["NULL", "q"])  # fmt: skip


def layout(s: Sheet) -> None:
    """Where mappings go: between the heap and the stack, top down, in whole pages."""
    x, _ = s.rng.choice(PAIRS)
    path = s.rng.choice(PATHS)
    size = s.rng.randint(100, 3 * PAGE)
    second = s.rng.randint(1, 3 * PAGE)
    letter = s.rng.choice("abcdefgh")
    s.step(f"file {path} {lit(letter)} * {size}")
    s.step(f'{x}: fd = open("{path}", O_RDONLY)')
    s.claim("whole-file", "mmap-returns-start")
    s.step(f"{x}: p = mmap(NULL, {size}, PROT_READ, MAP_PRIVATE, fd, 0)", "the whole file")
    s.ask(f"{x}: p[{size - 1}]", "p is the start of the mapping; the file's last byte")
    s.claim("null-addr", "len-rounded", "grow-down")
    s.step(f"{x}: q = mmap(NULL, {second}, PROT_READ | PROT_WRITE, "
           "MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)")  # fmt: skip
    s.ask(f"{x}: p - q", "the kernel put q right below p, in whole pages")
    s.claim("mappings-between")
    s.ask(f'{x}: start("[heap]") < q < p < start("[stack]")', "mappings fill the gap between")
    s.claim("layout-order", "private-program")
    s.ask(f'{x}: start("/usr/bin/prog") < start("[heap]")', "the program's text and data first")
    s.ask(f'{x}: perms(start("[heap]"))', "the heap is private, writable memory",
          [lit("rw-p"), lit("r-xp"), lit("rw-s")])  # fmt: skip
    s.step(f"show layout {x}")


def eof(s: Sheet) -> None:
    """A mapping longer than its file: a zero tail, then SIGBUS."""
    x, _ = s.rng.choice(PAIRS)
    path = s.rng.choice(PATHS)
    size = s.rng.randint(PAGE + 1, 2 * PAGE - 1)
    end = round_up(size)
    bad = s.rng.randrange(1, PAGE)
    s.step(f'file {path} "a" * {PAGE} + "b" * {size - PAGE}', f"{size} bytes")
    s.step(f'{x}: fd = open("{path}", O_RDONLY)')
    s.step(f"{x}: p = mmap(NULL, {end + PAGE}, PROT_READ, MAP_SHARED, fd, 0)",
           "one page more than the file")  # fmt: skip
    s.claim("len-rounded", "eof-zero-tail")
    s.ask(f"{x}: p[{size - 1}]", "the file's last byte")
    s.ask(f"{x}: p[{size}]", "past the end, the rest of the last page reads as zeros")
    s.claim("offset")
    s.step(f"{x}: r = mmap(NULL, {PAGE}, PROT_READ, MAP_SHARED, fd, {PAGE})", "the second page")
    s.ask(f"{x}: r[0]", "r starts 4096 bytes into the file", ['"a"', '"b"', "0"])
    s.ask(f"{x}: mmap(NULL, {PAGE}, PROT_READ, MAP_SHARED, fd, {bad})",
          "the offset must be a multiple of the page size")  # fmt: skip
    s.claim("eof-sigbus")
    s.ask(f"{x}: p[{end}]", "that page lies wholly beyond the end of the file")


TOPICS: dict[str, tuple[str, Callable[[Sheet], None]]] = {
    "shared": ("a shared file mapping", shared),
    "private-cow": ("a private file mapping and copy-on-write", private_cow),
    "anonymous": ("anonymous memory", anonymous),
    "fork": ("surprises after fork", fork),
    "msync": ("msync, the page cache and the disk", msync),
    "munmap": ("munmap, exit, exec and close", munmap),
    "layout": ("where mappings go", layout),
    "eof": ("past the end of the file", eof),
}
