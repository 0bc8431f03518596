"""The worker's side of the CPU's loads and stores, mremap, madvise, mincore and
the memory-locking calls.

A mixin of :class:`mmapsim.host.worker.Worker`: each ``op_`` is one real
system call or real CPU access in the worker (the controller has already
checked the range).  Before it touches each page, an access notes the page's
first address in the worker's fault page (``exit_status``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
from collections.abc import Callable, Iterator
from typing import Final, NoReturn

from mmapsim.constants import (
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MAP_ANONYMOUS,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    MS_ASYNC,
    PAGE_SIZE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from mmapsim.host import libc, libc_memory
from mmapsim.host.boundary import USER_SPAN, HostRefused

_Holes = tuple[tuple[int, bool], ...]
_Pieces = tuple[tuple[int, int], ...]
_Range = tuple[int, int]
_CLAIM: Final = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE
_SHARED_CLAIM: Final = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE


class MemoryOps:
    """Real loads and stores, mremap(2), madvise(2), mincore(2), mlock(2) and friends."""

    word: ctypes.c_uint64  # the fault page's word (see ``exit_status.FaultPage``)

    def op_load(self, addr: int, size: int, holes: _Holes | None = None) -> bytes:
        """Read page by page, noting each page's first address before touching it."""
        if holes is not None:
            return self._through(addr, size, holes, None)
        if (addr & (PAGE_SIZE - 1)) + size <= PAGE_SIZE:  # within one page
            self.word.value = addr
            return _read(addr, size)
        chunks = []
        va, end, word = addr, addr + size, self.word
        while va < end:
            n = min(end, (va | (PAGE_SIZE - 1)) + 1) - va
            word.value = va
            chunks.append(_read(va, n))
            va += n
        return b"".join(chunks)

    def op_store(self, addr: int, data: bytes, holes: _Holes | None = None) -> None:
        """Write page by page, noting each page's first address before touching it."""
        if holes is not None:
            self._through(addr, len(data), holes, data)
            return
        src = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
        done, total, word = 0, len(data), self.word
        while done < total:
            va = addr + done
            n = min(total - done, PAGE_SIZE - (va & (PAGE_SIZE - 1)))
            word.value = va
            ctypes.memmove(va, src + done, n)
            done += n

    def _through(self, addr: int, size: int, holes: _Holes, data: bytes | None) -> bytes:
        """A load (``data`` None) or a store whose range meets pages that are not the
        program's: ``holes`` holds each such page the access reaches, in order, with
        whether the kernel would grow a ``MAP_GROWSDOWN`` mapping of the program there.

        At each, ``_at_hole`` first makes sure that the access takes the program's
        answer there (the fault, or the growth) and never a page of the worker's own,
        whatever this process mapped there since the controller's check.
        """
        stops = dict(holes)
        src = 0 if data is None else ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
        chunks, va, end, word = [], addr, addr + size, self.word
        while va < end:
            n = min(end, (va | (PAGE_SIZE - 1)) + 1) - va
            grows = stops.get(va & ~(PAGE_SIZE - 1))
            if grows is not None:
                _at_hole(va, grows, word)
            word.value = va
            if data is None:
                chunks.append(_read(va, n))
            else:
                ctypes.memmove(va, (src or 0) + va - addr, n)
            va += n
        return b"".join(chunks)

    def op_munmap(self, addr: int, length: int, pieces: _Pieces | None = None) -> None:
        """munmap(2); over holes, of the program's ``pieces`` only (munmap skips holes)."""
        if pieces is None:
            libc.munmap(addr, length)
            return
        _planted()
        for start, end in pieces:
            libc.munmap(start, end - start)

    def op_msync(self, addr: int, length: int, flags: int, pieces: _Pieces | None = None) -> None:
        """msync(2); over holes, of the program's ``pieces`` only, then ENOMEM (``_each``)."""
        if pieces is None:
            libc.msync(addr, length, flags)
            return
        _each(lambda va, n: libc.msync(va, n, flags), addr, pieces, flags == MS_ASYNC)

    def op_mremap(
        self, addr: int, old_len: int, new_len: int, flags: int, new_addr: int, *claims: _Range
    ) -> int:
        """mremap(2); over holes, right after checking that each is still free.

        Linux 6.17 moves every VMA of the old range and keeps what the new range
        held at its holes, so a hole cannot be held for mremap to replace (as
        ``claimed`` does): each is held and let go at once, and the call is
        refused if one holds the worker's memory now.
        """
        _unmap(_hold(claims))
        return libc_memory.mremap(addr, old_len, new_len, flags, new_addr)

    def op_madvise(
        self, addr: int, length: int, advice: int, pieces: _Pieces | None = None
    ) -> None:
        """madvise(2); over holes, of the program's ``pieces`` only, then ENOMEM (``_each``)."""
        if pieces is None:
            libc_memory.madvise(addr, length, advice)
            return
        stops = advice in (MADV_POPULATE_READ, MADV_POPULATE_WRITE)  # they end at a hole
        _each(lambda va, n: libc_memory.madvise(va, n, advice), addr, pieces, stops)

    def op_mincore(self, addr: int, length: int) -> bytes:
        return libc_memory.mincore(addr, length, USER_SPAN)

    def op_mlock(self, addr: int, length: int) -> None:
        libc_memory.mlock(addr, length)

    def op_mlock2(self, addr: int, length: int, flags: int) -> None:
        libc_memory.mlock2(addr, length, flags)

    def op_munlock(self, addr: int, length: int) -> None:
        libc_memory.munlock(addr, length)

    def op_mlockall(self, flags: int) -> None:
        libc_memory.mlockall(flags)

    def op_munlockall(self) -> None:
        libc_memory.munlockall()


def _each(call: Callable[[int, int], None], addr: int, pieces: _Pieces, stops: bool) -> None:
    """A call that Linux makes VMA by VMA over a range with holes (msync, madvise):
    on each of the program's ``pieces`` in turn, the first error raised at once;
    then ENOMEM for the holes.  ``stops``: the kernel ends at the first hole
    (msync with MS_ASYNC alone, the MADV_POPULATE advices).  With no piece, the
    call of zero bytes makes the kernel's checks of the other arguments."""
    _planted()
    if not pieces:
        call(addr, 0)
    for start, end in pieces:
        if stops and start > addr:
            break
        call(start, end - start)
        addr = end
    raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))


def _at_hole(va: int, grows: bool, word: ctypes.c_uint64) -> None:
    """Make the access about to touch ``va`` (its page is not the program's) take the
    answer the program alone gets there; return only if the access may go on.

    The page is claimed with a MAP_FIXED_NOREPLACE mapping without access: if that
    succeeds, nothing of this process can come there any more and the access
    takes the kernel's own SIGSEGV at ``va``; if the page is mapped (EEXIST), it is
    this process's own memory, mapped since the controller's check: the process
    dies as the fault would, SIGSEGV with ``va`` in its fault page, and the page is
    never touched.  Where no page can be mapped at all (below mmap_min_addr, past
    user space), the kernel's fault is left to come.  Where the kernel would grow
    a ``MAP_GROWSDOWN`` mapping of the program (``grows``), the page must stay
    free: it is only checked to be unmapped (msync's ENOMEM), and then touched.
    """
    _planted()
    page = va & ~(PAGE_SIZE - 1)
    if grows:
        try:
            libc.msync(page, PAGE_SIZE, MS_ASYNC)
        except OSError:
            return  # unmapped: the kernel grows the mapping (or faults)
        _die(va, word)
    try:
        got = libc.mmap(page, PAGE_SIZE, PROT_NONE, _CLAIM, -1, 0)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            _die(va, word)
        return
    if got != page:  # a kernel older than MAP_FIXED_NOREPLACE took it as a hint
        libc.munmap(got, PAGE_SIZE)


def _die(va: int, word: ctypes.c_uint64) -> NoReturn:
    """End this process as a fault at ``va`` would: SIGSEGV, ``va`` in the fault page."""
    word.value = va
    signal.signal(signal.SIGSEGV, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGSEGV})
    os.kill(os.getpid(), signal.SIGSEGV)
    os._exit(128 + signal.SIGSEGV)  # pragma: no cover - the signal ended it


@contextlib.contextmanager
def claimed(holes: tuple[_Range, ...]) -> Iterator[None]:
    """Hold each hole of a call that unmaps what its range holds (a MAP_FIXED mmap,
    mremap) with a mapping of this process's own, for the call to replace.

    Each is a MAP_FIXED_NOREPLACE shared anonymous mapping without access (it
    merges with no other mapping); while it stands, nothing this process maps
    can come there, so the call unmaps nothing of the worker's.  A hole that is
    mapped already holds the worker's own memory, mapped since the controller's
    check: the call is refused (HostRefused), as if that memory had been there
    then.  If the call fails, the claims it left (``_standing``) are unmapped.
    """
    done = _hold(holes)
    try:
        yield
    except BaseException:
        _unmap(_standing(done))
        raise


def _hold(holes: tuple[_Range, ...]) -> list[_Range]:
    """The claims of ``claimed``, made (HostRefused where one cannot be)."""
    _planted()
    done: list[_Range] = []
    for start, end in holes:
        try:
            got = libc.mmap(start, end - start, PROT_NONE, _SHARED_CLAIM, -1, 0)
        except OSError as exc:
            _unmap(done)
            raise HostRefused(
                f"the host worker's own memory came to {start:#x}, in the range of the call"
            ) from exc
        if got != start:  # a kernel older than MAP_FIXED_NOREPLACE took it as a hint
            _unmap([*done, (got, got + end - start)])
            raise HostRefused(f"{start:#x} cannot be held for the call")
        done.append((start, end))
    return done


def _unmap(ranges: list[_Range]) -> None:
    for start, end in ranges:
        libc.munmap(start, end - start)


def _standing(claims: list[_Range]) -> list[_Range]:
    """The claims still mapped after a failed call: shared, without access, in maps.

    The kernel may have unmapped some of them before it failed; a mapping that
    the worker made there since would have access, and is left alone.
    """
    with open("/proc/self/maps", "rb") as maps:
        held = []
        for line in maps:
            head, perms = line.split(b" ", 2)[:2]
            if perms == b"---s":
                low, high = head.split(b"-")
                held.append((int(low, 16), int(high, 16)))
    return [(s, e) for s, e in claims if any(lo <= s and e <= hi for lo, hi in held)]


#: Test hook (``op_raw_probe``): files to map at given addresses right before the
#: next hole is checked, as the worker's own memory would come there.
_PLANTS: list[tuple[int, str]] = []


def plant(arg: str) -> int:
    """Test hook: ``"<hex address> <path>"``, mapped before the next hole (``_planted``)."""
    addr, path = arg.split(" ", 1)
    _PLANTS.append((int(addr, 16), path))
    return 0


def _planted() -> None:
    """Map the files of ``plant`` (shared, one page each), once."""
    while _PLANTS:
        addr, path = _PLANTS.pop()
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            libc.mmap(addr, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | 0x100000, fd, 0)
        finally:
            os.close(fd)


def _read(va: int, n: int) -> bytes:
    """A real read of ``n`` bytes at ``va`` (string_at would not touch NULL)."""
    if va:
        return ctypes.string_at(va, n)
    buf = ctypes.create_string_buffer(n)
    ctypes.memmove(buf, va, n)
    return buf.raw


class TouchedPages:
    """The pages that the calls of one batch read or wrote without a fault.

    Such a page cannot fault again in that batch the same way, nor a written
    page on a read (x86-64 has no write-only page): nothing between the calls
    of a batch changes a mapping or a protection.  Only a call of at most
    ``SPAN_PAGES`` pages is looked up; a larger one is taken as one that could fault.
    """

    SPAN_PAGES: Final = 16

    __slots__ = ("read", "written")

    def __init__(self) -> None:
        self.read: set[int] = set()
        self.written: set[int] = set()

    @classmethod
    def _vpns(cls, args: tuple[object, ...]) -> range | None:
        addr, arg = args
        size = arg if isinstance(arg, int) else len(arg) if isinstance(arg, bytes) else -1
        if not isinstance(addr, int) or size < 0:
            return None
        if size == 0:  # touches nothing
            return range(0)
        first, last = addr >> 12, (addr + size - 1) >> 12
        return range(first, last + 1) if last - first < cls.SPAN_PAGES else None

    def cannot_fault(self, op: str, args: tuple[object, ...]) -> bool:
        """Whether the access ``op`` (``load`` or ``store``) of ``args`` only touches
        pages that earlier calls of the batch touched without a fault, as it would."""
        vpns = self._vpns(args)
        if vpns is None:
            return False
        if op == "store":
            return all(vpn in self.written for vpn in vpns)
        return all(vpn in self.read or vpn in self.written for vpn in vpns)

    def note(self, op: str, args: tuple[object, ...]) -> None:
        """The access ``op`` of ``args`` was made without a fault."""
        vpns = self._vpns(args)
        if vpns is not None:
            (self.written if op == "store" else self.read).update(vpns)
