"""Hypothesis strategies: random programs of memory and file calls.

A program is a list of :class:`Step`.  Addresses, processes and file
descriptors are symbolic, because each machine chooses its own numbers: an
:class:`Addr` is an offset from the start of the mapping that an earlier step
returned, or from the program's *arena*; a :class:`Ref` is the value that an
earlier step returned (a process, a file descriptor).  ``tests/test_differential.py``
resolves them on each machine and compares what a program could observe.

Every program starts the same way: process 0 is spawned and maps the arena,
``ARENA_PAGES`` pages of PROT_NONE anonymous memory chosen by the kernel.  The
arena's start is the *base* of the run; fixed addresses and hints are arena
offsets, so they mean the same place on both machines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from hypothesis import strategies as st

from mmapsim.constants import (
    MADV_COLD,
    MADV_DODUMP,
    MADV_DOFORK,
    MADV_DONTDUMP,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_KEEPONFORK,
    MADV_NORMAL,
    MADV_PAGEOUT,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MADV_RANDOM,
    MADV_REMOVE,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
    MADV_WIPEONFORK,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_LOCKED,
    MAP_NONBLOCK,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_STACK,
    MAP_SYNC,
    MCL_CURRENT,
    MCL_FUTURE,
    MCL_ONFAULT,
    MLOCK_ONFAULT,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    MS_ASYNC,
    MS_INVALIDATE,
    MS_SYNC,
    O_APPEND,
    O_CREAT,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from strategies.ipc_programs import IPC_CALLS, ipc_record, ipc_step

PAGE: Final = PAGE_SIZE
ARENA_PAGES: Final = 64
#: How far below the arena generated hints may point.
HINT_BELOW_PAGES: Final = 48
FILES: Final = ("/tmp/f0", "/tmp/f1")
TASK_SIZE: Final = 0x7FFFFFFFF000


@dataclass(frozen=True)
class Ref:
    """The value returned by step ``step`` (a process, an fd, an address)."""

    step: int


@dataclass(frozen=True)
class End:
    """One end (0: read, 1: write) of the pipe that step ``step`` made."""

    step: int
    which: int


@dataclass(frozen=True)
class Addr:
    """An address: ``offset`` bytes from the start of mapping ``ref``, or of the
    arena (``ref`` None); ``raw`` is an absolute address no mapping can hold."""

    ref: Ref | None = None
    offset: int = 0
    raw: int | None = None


@dataclass(frozen=True)
class Step:
    """One call: ``call`` in the process created by step ``proc``."""

    proc: int
    call: str
    args: tuple[object, ...] = ()

    def __str__(self) -> str:
        args = ", ".join(_show(a) for a in self.args)
        return f"P{self.proc}.{self.call}({args})"


def _show(arg: object) -> str:
    if isinstance(arg, Ref):
        return f"<step {arg.step}>"
    if isinstance(arg, End):
        return f"<pipe {arg.step}.{'rw'[arg.which]}>"
    if isinstance(arg, Addr):
        if arg.raw is not None:
            return hex(arg.raw)
        where = "arena" if arg.ref is None else f"map{arg.ref.step}"
        return f"{where}{arg.offset:+#x}"
    if isinstance(arg, int) and abs(arg) >= PAGE:
        return hex(arg)
    if isinstance(arg, bytes) and len(arg) > 16:
        return f"{arg[:1]!r} * {len(arg)}" if arg == arg[:1] * len(arg) else f"<{len(arg)} bytes>"
    return repr(arg)


@dataclass(frozen=True)
class Program:
    """Initial file contents and the steps."""

    files: tuple[bytes, ...]
    steps: tuple[Step, ...]

    def __str__(self) -> str:
        lines = [f"files: {[len(f) for f in self.files]} bytes"]
        lines += [f"  {i:2}: {s}" for i, s in enumerate(self.steps)]
        return "\n".join(lines)


@dataclass
class _Ctx:
    """What the generator knows so far: which steps made what."""

    procs: list[int] = field(default_factory=lambda: [0])
    maps: dict[int, int] = field(default_factory=lambda: {1: ARENA_PAGES * PAGE})
    fds: list[int] = field(default_factory=list)
    pipes: list[End] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    shmids: list[int] = field(default_factory=list)  # shmget steps
    shm_sizes: dict[int, int] = field(default_factory=dict)  # shmget step -> mapped size


# -- values ---------------------------------------------------------------------

RW: Final = PROT_READ | PROT_WRITE
PROTS: Final = st.sampled_from(
    [RW] * 8
    + [PROT_READ] * 4
    + [PROT_NONE] * 2
    + [PROT_WRITE, PROT_READ | PROT_EXEC, PROT_EXEC]
    + [RW | PROT_EXEC, 0x8, 0x01000000]
)
SHARING: Final = st.sampled_from(
    [MAP_PRIVATE] * 9
    + [MAP_SHARED] * 9
    + [MAP_SHARED_VALIDATE, MAP_SHARED_VALIDATE, 0, MAP_PRIVATE | MAP_SHARED | 0x8, 0xF]
)
MAP_32BIT: Final = 0x40
MAP_ABOVE4G: Final = 0x80
MAP_HUGETLB: Final = 0x40000
#: Flag bits a program may add: placement, population, VmFlags, odd and unknown bits.
EXTRA_FLAGS: Final = st.sampled_from(
    [0] * 20
    + [MAP_FIXED] * 4
    + [MAP_FIXED_NOREPLACE] * 3
    + [MAP_POPULATE] * 3
    + [MAP_LOCKED, MAP_NORESERVE, MAP_STACK, MAP_SYNC, MAP_SYNC | MAP_FIXED]
    + [MAP_STACK | MAP_FIXED, MAP_32BIT, MAP_ABOVE4G, MAP_NONBLOCK | MAP_POPULATE]
    + [MAP_GROWSDOWN, 0x80000000, 0x400, 0x20000000, MAP_LOCKED | MAP_POPULATE]
)
#: MAP_HUGETLB with its size bits: the default, 2 MiB, 1 GiB, and sizes there are not.
HUGETLB_FLAGS: Final = st.sampled_from(
    [
        MAP_HUGETLB,
        MAP_HUGETLB | MAP_NORESERVE,
        MAP_HUGETLB | 21 << 26 | MAP_NORESERVE,
        MAP_HUGETLB | 30 << 26 | MAP_NORESERVE,
        MAP_HUGETLB | 16 << 26,
        MAP_HUGETLB | 63 << 26,
    ]
)
MS_FLAGS: Final = st.sampled_from(
    [MS_SYNC, MS_ASYNC, MS_INVALIDATE, MS_SYNC | MS_INVALIDATE, MS_ASYNC | MS_SYNC, 0, 8]
)
OPEN_FLAGS: Final = st.sampled_from(
    [O_RDWR, O_RDONLY, O_WRONLY, O_RDWR | O_CREAT, O_RDWR | O_TRUNC, O_WRONLY | O_APPEND]
)
#: Lengths in bytes: whole pages mostly, then the edge cases.
LENGTHS: Final = st.one_of(
    st.integers(1, 8).map(lambda n: n * PAGE),
    st.integers(1, 8).map(lambda n: n * PAGE),
    st.integers(1, 8).map(lambda n: n * PAGE),
    st.sampled_from([0, 1, PAGE - 1, PAGE + 1, 3 * PAGE + 7, 2**64 - PAGE, 2**47, 2**63]),
)
OFFSETS: Final = st.sampled_from(
    [0] * 12 + [PAGE] * 3 + [2 * PAGE, 2 * PAGE, 1, -PAGE, 2**62, 2**63 - PAGE, 2 << 20]
)
WHENCES: Final = st.sampled_from([0, 0, 1, 1, 2, 2, 3, 4, 5, -1])
RAW_ADDRS: Final = st.sampled_from([0, TASK_SIZE, 2**47 - 1, 2**63, 2**64 - PAGE])
DATA: Final = st.one_of(
    st.binary(min_size=1, max_size=16),
    st.tuples(st.integers(0, 255), st.integers(PAGE - 8, 2 * PAGE + 8)).map(
        lambda t: bytes([t[0]]) * t[1]
    ),
)
FILE_CONTENTS: Final = st.sampled_from([0, 100, PAGE, 2 * PAGE + 5]).map(
    lambda n: bytes((i * 7 + 1) % 251 for i in range(n))
)


@st.composite
def _addr(draw: st.DrawFn, ctx: _Ctx, *, hint: bool = False) -> Addr:
    """An address in one of the program's mappings, in the arena, or a raw one."""
    kind = draw(st.sampled_from(["map"] * 16 + ["arena"] * 3 + ["raw"]))
    if kind == "raw" and not hint:
        return Addr(raw=draw(RAW_ADDRS))
    if kind == "map" and not hint:
        step = draw(st.sampled_from(sorted(ctx.maps)))
        pages = ctx.maps[step] // PAGE
        page = draw(st.sampled_from([0, 0, pages - 1, -1, pages]) | st.integers(0, pages - 1))
        skew = draw(st.sampled_from([0] * 10 + [1, 8, PAGE // 2, PAGE - 1]))
        return Addr(Ref(step), page * PAGE + skew)
    page = draw(st.integers(-HINT_BELOW_PAGES, ARENA_PAGES - 1))
    return Addr(None, page * PAGE)


def _fd(draw: st.DrawFn, ctx: _Ctx) -> object:
    if ctx.pipes and draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(ctx.pipes))
    if ctx.fds and draw(st.integers(0, 9)) < 9:
        return Ref(draw(st.sampled_from(ctx.fds)))
    return draw(st.sampled_from([-1, 1000]))


# -- steps ------------------------------------------------------------------------


def _mmap(draw: st.DrawFn, ctx: _Ctx, proc: int) -> Step:
    anonymous = draw(st.booleans())
    extra = draw(EXTRA_FLAGS)
    flags = draw(SHARING) | extra | (MAP_ANONYMOUS if anonymous else 0)
    if draw(st.integers(0, 15)) == 0:  # no MAP_FIXED: where a huge page fits differs
        flags = (flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE)) | draw(HUGETLB_FLAGS)
    if extra & (MAP_FIXED | MAP_FIXED_NOREPLACE) or draw(st.integers(0, 3)) == 0:
        addr: object = draw(_addr(ctx, hint=True))
    else:
        addr = None
    length = draw(LENGTHS)
    fd = -1 if anonymous and draw(st.integers(0, 4)) else _fd(draw, ctx)
    offset = 0 if anonymous else draw(OFFSETS)
    return Step(proc, "mmap", (addr, length, draw(PROTS), flags, fd, offset))


def _range_call(draw: st.DrawFn, ctx: _Ctx, proc: int, call: str) -> Step:
    addr, length = draw(_addr(ctx)), draw(LENGTHS)
    if call == "munmap":
        return Step(proc, call, (addr, length))
    last = draw(PROTS) if call == "mprotect" else draw(MS_FLAGS)
    return Step(proc, call, (addr, length, last))


def _access(draw: st.DrawFn, ctx: _Ctx, proc: int, call: str) -> Step:
    addr = draw(_addr(ctx))
    if call == "load":
        return Step(proc, call, (addr, draw(st.sampled_from([1, 8, PAGE, PAGE + 16]))))
    return Step(proc, call, (addr, draw(DATA)))


def _file_call(draw: st.DrawFn, ctx: _Ctx, proc: int, call: str) -> Step:
    if call == "open":
        path = draw(st.sampled_from([*FILES, *FILES, "/dev/zero", "/dev/zero", f"{FILES[0]}/"]))
        return Step(proc, call, (path, draw(OPEN_FLAGS)))
    fd = _fd(draw, ctx)
    if call == "close":
        return Step(proc, call, (fd,))
    if call == "read":
        return Step(proc, call, (fd, draw(st.sampled_from([0, 1, 100, PAGE + 8]))))
    if call == "lseek":
        offset = draw(st.sampled_from([0, 1, PAGE, -1, 3 * PAGE + 5, 100, 2 * PAGE + 5]))
        return Step(proc, call, (fd, offset, draw(WHENCES)))
    if call == "pread":
        return Step(proc, call, (fd, draw(st.sampled_from([1, 64, PAGE + 8])), draw(OFFSETS)))
    if call == "pwrite":
        return Step(proc, call, (fd, draw(DATA), draw(st.sampled_from([0, 5, PAGE - 2, 3 * PAGE]))))
    if call == "write":
        return Step(proc, call, (fd, draw(DATA)))
    length = draw(st.sampled_from([0, 10, PAGE, PAGE + 10, 3 * PAGE, -1]))
    return Step(proc, "ftruncate", (fd, length))


MREMAP_FLAGS: Final = st.sampled_from(
    [0] * 3
    + [MREMAP_MAYMOVE] * 4
    + [MREMAP_MAYMOVE | MREMAP_FIXED] * 3
    + [MREMAP_MAYMOVE | MREMAP_DONTUNMAP] * 2
    + [MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_DONTUNMAP, 8]
)
#: Every advice of API.md, a few twice, and three Linux refuses (5, 26) or keeps from us (100).
ADVICE: Final = st.sampled_from(
    [MADV_DONTNEED] * 3
    + [MADV_FREE, MADV_REMOVE, MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT] * 2
    + [MADV_POPULATE_READ, MADV_POPULATE_WRITE] * 2
    + [MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_DONTFORK, MADV_DOFORK]
    + [MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_DONTDUMP, MADV_DODUMP]
    + [5, 26, 100]
)
MCL_FLAGS: Final = st.sampled_from(
    [
        MCL_CURRENT,
        MCL_FUTURE,
        MCL_CURRENT | MCL_FUTURE,
        MCL_CURRENT | MCL_ONFAULT,
        MCL_FUTURE | MCL_ONFAULT,
        MCL_ONFAULT,
        0,
        8,
    ]
)


def _memory_call(draw: st.DrawFn, ctx: _Ctx, proc: int, call: str) -> Step:
    """mremap, madvise, mincore and the locking calls."""
    if call == "mremap":
        flags = draw(MREMAP_FLAGS)
        new = draw(_addr(ctx, hint=True)) if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) else 0
        args = (draw(_addr(ctx)), draw(LENGTHS), draw(LENGTHS), flags, new)
        return Step(proc, call, args)
    if call == "mlockall":
        return Step(proc, call, (draw(MCL_FLAGS),))
    if call == "munlockall":
        return Step(proc, call)
    addr, length = draw(_addr(ctx)), draw(LENGTHS)
    if call == "madvise":
        return Step(proc, call, (addr, length, draw(ADVICE)))
    if call == "mlock2":
        return Step(proc, call, (addr, length, draw(st.sampled_from([0, MLOCK_ONFAULT, 2]))))
    return Step(proc, call, (addr, length))


MEMORY_CALLS: Final = (
    "mremap",
    "madvise",
    "mincore",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
)

CALLS: Final = (
    ["mmap"] * 8
    + ["munmap"] * 2
    + ["mprotect"] * 2
    + ["msync"] * 2
    + ["load"] * 6
    + ["store"] * 6
    + ["fork"] * 2
    + ["open", "close", "pread", "pwrite", "pwrite", "write", "ftruncate", "exit", "write_file"]
    + ["read", "lseek", "lseek", "spawn", "pipe", "execve"]
    + IPC_CALLS
)
#: The calls of ``memory_programs``: the above, and mremap, madvise, mincore, the locks.
CALLS_WITH_MEMORY: Final = (
    CALLS
    + ["mremap"] * 4
    + ["madvise"] * 5
    + ["mincore"] * 2
    + ["mlock", "mlock2", "munlock", "mlockall", "munlockall"]
)


def _step(draw: st.DrawFn, ctx: _Ctx, calls: list[str]) -> Step:
    call = draw(st.sampled_from(calls))
    proc = draw(st.sampled_from(ctx.procs))
    if call == "mmap":
        return _mmap(draw, ctx, proc)
    if call in ("munmap", "mprotect", "msync"):
        return _range_call(draw, ctx, proc, call)
    if call in ("load", "store"):
        return _access(draw, ctx, proc, call)
    if call in MEMORY_CALLS:
        return _memory_call(draw, ctx, proc, call)
    if call in ("fork", "spawn"):
        return Step(proc, call) if len(ctx.procs) < 3 else Step(proc, "load", (Addr(), 1))
    if call == "exit":
        return Step(proc, "exit", (draw(st.integers(0, 3)),))
    if call == "write_file":
        return Step(0, "write_file", (draw(st.sampled_from(FILES)), draw(DATA)))
    if call == "pipe":
        return Step(proc, "pipe")
    if call == "execve":  # the files are no programs: ETXTBSY, EACCES or ENOEXEC
        return Step(proc, "execve", (draw(st.sampled_from(FILES)), draw(st.booleans())))
    if call in IPC_CALLS:
        return ipc_step(draw, ctx, proc, call)
    return _file_call(draw, ctx, proc, call)


def _record(ctx: _Ctx, step: Step) -> None:
    index = len(ctx.steps)
    ctx.steps.append(step)
    if step.call in ("fork", "spawn"):
        ctx.procs.append(index)
    elif step.call in ("mmap", "mremap"):
        length = step.args[1 if step.call == "mmap" else 2]
        assert isinstance(length, int)
        if 0 < length <= 64 * PAGE:
            ctx.maps[index] = -(-length // PAGE) * PAGE
    elif step.call == "open":
        ctx.fds.append(index)
    elif step.call == "pipe":
        ctx.pipes += [End(index, 0), End(index, 1)]
    else:
        ipc_record(ctx, index, step)


@st.composite
def programs(draw: st.DrawFn, max_steps: int = 24, calls: list[str] = CALLS) -> Program:
    """A program: spawn, the arena, open both files, then up to ``max_steps`` calls."""
    ctx = _Ctx()
    ctx.steps = [
        Step(0, "spawn"),
        Step(0, "mmap", (None, ARENA_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)),
        Step(0, "open", (FILES[0], O_RDWR)),
        Step(0, "open", (FILES[1], O_RDWR)),
    ]
    ctx.fds = [2, 3]
    for _ in range(draw(st.integers(1, max_steps))):
        _record(ctx, _step(draw, ctx, calls))
    files = tuple(draw(FILE_CONTENTS) for _ in FILES)
    return Program(files, tuple(ctx.steps))


def memory_programs(max_steps: int = 24) -> st.SearchStrategy[Program]:
    """Programs that also call mremap, madvise, mincore and the locking calls."""
    return programs(max_steps, CALLS_WITH_MEMORY)
