"""Typed kernel events that stats, traces and the visualizer observe.

The kernel emits an event only when someone listens (``EventBus.active``), so
the fault path costs nothing extra when nobody traces.  Every event has a
``describe()`` that says what happened in words, in the vocabulary of DESIGN.md.

    with machine.events.record() as events:
        p.store(va, b"x")
    for e in events:
        print(e.describe())
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

#: Process names by pid, for describe(): a scenario's names (``A``, ``Child``).
Names = Mapping[int, str] | None


def who(pid: int, names: Names = None) -> str:
    """A process as a trace names it: its scenario name, else ``pid N``."""
    if names is not None and pid in names:
        return names[pid]
    return f"pid {pid}"


def _pages(count: int) -> str:
    return f"{count} page" if count == 1 else f"{count} pages"


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of every kernel event."""

    def describe(self, names: Names = None) -> str:
        """What happened, in words; processes named by ``names`` where it has them."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class PageFault(Event):
    """A page fault was taken (``major`` when resolving it reads the disk).

    It is emitted when the fault is taken, before what resolving it does (a
    page read, a frame allocated, a copy-on-write), so a trace shows the cause
    before its effects.
    """

    pid: int
    va: int
    write: bool
    major: bool

    def describe(self, names: Names = None) -> str:
        kind = "major" if self.major else "minor"
        access = "write" if self.write else "read"
        return f"{who(self.pid, names)}: {kind} fault ({access}) at {self.va:#x}"


@dataclass(frozen=True, slots=True)
class FaultAround(Event):
    """A read fault also mapped neighbouring pages already in the page cache."""

    pid: int
    va: int
    pages: int

    def describe(self, names: Names = None) -> str:
        return (
            f"{who(self.pid, names)}: fault-around at {self.va:#x} mapped {self.pages} "
            "neighbouring page(s) already in the page cache"
        )


@dataclass(frozen=True, slots=True)
class ZeroPageMapped(Event):
    """A read of untouched anonymous memory mapped the shared zero frame."""

    pid: int
    va: int
    pfn: int

    def describe(self, names: Names = None) -> str:
        return f"{who(self.pid, names)}: zero frame {self.pfn:#x} mapped read-only at {self.va:#x}"


@dataclass(frozen=True, slots=True)
class AnonPageAllocated(Event):
    """A zero-filled anonymous frame was allocated for a private page."""

    pid: int
    va: int
    pfn: int

    def describe(self, names: Names = None) -> str:
        return f"{who(self.pid, names)}: new zeroed anonymous frame {self.pfn:#x} at {self.va:#x}"


@dataclass(frozen=True, slots=True)
class CowCopy(Event):
    """A write to a shared-for-reading private page copied it (copy-on-write)."""

    pid: int
    va: int
    old_pfn: int
    new_pfn: int

    def describe(self, names: Names = None) -> str:
        return (
            f"{who(self.pid, names)}: copy-on-write at {self.va:#x}: "
            f"frame {self.old_pfn:#x} copied to {self.new_pfn:#x}"
        )


@dataclass(frozen=True, slots=True)
class CowReuse(Event):
    """A write to a copy-on-write page that only this process still maps reused it."""

    pid: int
    va: int
    pfn: int

    def describe(self, names: Names = None) -> str:
        return f"{who(self.pid, names)}: copy-on-write at {self.va:#x}: frame {self.pfn:#x} reused"


@dataclass(frozen=True, slots=True)
class PageCacheRead(Event):
    """A page of a file was read from disk into a page-cache frame."""

    path: str
    pgoff: int
    pfn: int

    def describe(self, names: Names = None) -> str:
        return f"page cache: {self.path} page {self.pgoff} read from disk into frame {self.pfn:#x}"


@dataclass(frozen=True, slots=True)
class PageDirtied(Event):
    """A page-cache frame became dirty (its bytes differ from the disk)."""

    path: str
    pgoff: int
    pfn: int

    def describe(self, names: Names = None) -> str:
        return f"page cache: {self.path} page {self.pgoff} (frame {self.pfn:#x}) is dirty"


@dataclass(frozen=True, slots=True)
class Writeback(Event):
    """A dirty page-cache frame was written to disk and is clean again.

    ``cause`` says who wrote it (``msync``, ``fsync``, ``sync``, ``flusher`` for
    the writeback daemon, ``reclaim``, ``setup`` for a file written from
    outside); ``uptime_ns`` is when, on the machine's clock.
    """

    path: str
    pgoff: int
    pfn: int
    cause: str = "writeback"
    uptime_ns: int = 0

    def describe(self, names: Names = None) -> str:
        from mmapsim.clock import seconds

        return (
            f"writeback by {self.cause} at {seconds(self.uptime_ns)}: {self.path} page "
            f"{self.pgoff} (frame {self.pfn:#x}) written to disk"
        )


@dataclass(frozen=True, slots=True)
class PageUnmapped(Event):
    """A page-table entry was removed (munmap, exit, exec, truncate)."""

    pid: int
    va: int
    pfn: int

    def describe(self, names: Names = None) -> str:
        return f"{who(self.pid, names)}: page at {self.va:#x} (frame {self.pfn:#x}) unmapped"


@dataclass(frozen=True, slots=True)
class FrameFreed(Event):
    """A frame lost its last reference and returned to the free list."""

    pfn: int

    def describe(self, names: Names = None) -> str:
        return f"frame {self.pfn:#x} freed"


@dataclass(frozen=True, slots=True)
class SignalSent(Event):
    """The kernel killed a process with a signal for a bad memory access."""

    pid: int
    signal: str
    va: int
    reason: str

    def describe(self, names: Names = None) -> str:
        return f"{who(self.pid, names)}: {self.signal} at {self.va:#x} ({self.reason})"


@dataclass(frozen=True, slots=True)
class Forked(Event):
    """fork copied an address space: which page-table entries it copied, which it left."""

    parent: int
    child: int
    mappings: int
    copied: int  # page-table entries copied (of mappings with anonymous pages)
    write_protected: int  # private pages made read-only in both: copy-on-write
    left_empty: int  # mappings with pages whose entries the child starts without (file ones)

    def describe(self, names: Names = None) -> str:
        text = (
            f"{who(self.parent, names)} forked {who(self.child, names)}: "
            f"{self.mappings} mappings copied, {_pages(self.copied)} of page table copied"
        )
        if self.write_protected:
            text += f" ({_pages(self.write_protected)} made read-only in both: copy-on-write)"
        if self.left_empty:
            text += (
                f"; the entries of {self.left_empty} file mapping(s) are not copied: the "
                "child's page table starts empty there (its first access faults the page in)"
            )
        return text


@dataclass(frozen=True, slots=True)
class Munmapped(Event):
    """munmap removed ``[start, end)``: how many mappings it touched, pages it unmapped."""

    pid: int
    start: int
    end: int
    mappings: int
    present: int

    def describe(self, names: Names = None) -> str:
        size = _pages((self.end - self.start) >> 12)
        return (
            f"{who(self.pid, names)}: munmap of [{self.start:#x}, {self.end:#x}) ({size}) "
            f"touches {self.mappings} mapping(s); {_pages(self.present)} present to unmap"
        )


@dataclass(frozen=True, slots=True)
class AddressSpaceEmptied(Event):
    """exit, execve, a fatal signal or a crash removed every mapping of a process."""

    pid: int
    why: str  # "exit", "execve", "signal", "crash", "close"
    mappings: int
    present: int

    def describe(self, names: Names = None) -> str:
        what = {
            "exit": "exited",
            "execve": "called execve",
            "signal": "was killed",
            "crash": "died in the crash",
            "close": "ended with its machine",
        }.get(self.why, self.why)
        return (
            f"{who(self.pid, names)} {what}: all {self.mappings} mappings removed, "
            f"{_pages(self.present)} unmapped"
        )


Listener = Callable[[Event], None]


class EventBus:
    """Delivers kernel events to listeners; free when nobody listens."""

    __slots__ = ("_listeners", "active")

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self.active = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every event from now on; returns the unsubscriber."""
        self._listeners.append(listener)
        self.active = True

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
            self.active = bool(self._listeners)

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Deliver ``event``; callers test ``active`` first on hot paths."""
        for listener in list(self._listeners):
            listener(event)

    @contextmanager
    def record(self) -> Iterator[list[Event]]:
        """Collect the events emitted inside the ``with`` block into a list."""
        events: list[Event] = []
        unsubscribe = self.subscribe(events.append)
        try:
            yield events
        finally:
            unsubscribe()
