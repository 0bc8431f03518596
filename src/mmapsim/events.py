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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of every kernel event."""

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class PageFault(Event):
    """A page fault was taken and resolved (``major`` when the disk was read)."""

    pid: int
    va: int
    write: bool
    major: bool

    def describe(self) -> str:
        kind = "major" if self.major else "minor"
        access = "write" if self.write else "read"
        return f"pid {self.pid}: {kind} fault ({access}) at {self.va:#x}"


@dataclass(frozen=True, slots=True)
class FaultAround(Event):
    """A read fault also mapped neighbouring pages already in the page cache."""

    pid: int
    va: int
    pages: int

    def describe(self) -> str:
        return (
            f"pid {self.pid}: fault-around at {self.va:#x} mapped {self.pages} "
            "neighbouring page(s) already in the page cache"
        )


@dataclass(frozen=True, slots=True)
class ZeroPageMapped(Event):
    """A read of untouched anonymous memory mapped the shared zero frame."""

    pid: int
    va: int
    pfn: int

    def describe(self) -> str:
        return f"pid {self.pid}: zero frame {self.pfn:#x} mapped read-only at {self.va:#x}"


@dataclass(frozen=True, slots=True)
class AnonPageAllocated(Event):
    """A zero-filled anonymous frame was allocated for a private page."""

    pid: int
    va: int
    pfn: int

    def describe(self) -> str:
        return f"pid {self.pid}: new zeroed anonymous frame {self.pfn:#x} at {self.va:#x}"


@dataclass(frozen=True, slots=True)
class CowCopy(Event):
    """A write to a shared-for-reading private page copied it (copy-on-write)."""

    pid: int
    va: int
    old_pfn: int
    new_pfn: int

    def describe(self) -> str:
        return (
            f"pid {self.pid}: copy-on-write at {self.va:#x}: "
            f"frame {self.old_pfn:#x} copied to {self.new_pfn:#x}"
        )


@dataclass(frozen=True, slots=True)
class CowReuse(Event):
    """A write to a copy-on-write page that only this process still maps reused it."""

    pid: int
    va: int
    pfn: int

    def describe(self) -> str:
        return f"pid {self.pid}: copy-on-write at {self.va:#x}: frame {self.pfn:#x} reused"


@dataclass(frozen=True, slots=True)
class PageCacheRead(Event):
    """A page of a file was read from disk into a page-cache frame."""

    path: str
    pgoff: int
    pfn: int

    def describe(self) -> str:
        return f"page cache: {self.path} page {self.pgoff} read from disk into frame {self.pfn:#x}"


@dataclass(frozen=True, slots=True)
class PageDirtied(Event):
    """A page-cache frame became dirty (its bytes differ from the disk)."""

    path: str
    pgoff: int
    pfn: int

    def describe(self) -> str:
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

    def describe(self) -> str:
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

    def describe(self) -> str:
        return f"pid {self.pid}: page at {self.va:#x} (frame {self.pfn:#x}) unmapped"


@dataclass(frozen=True, slots=True)
class FrameFreed(Event):
    """A frame lost its last reference and returned to the free list."""

    pfn: int

    def describe(self) -> str:
        return f"frame {self.pfn:#x} freed"


@dataclass(frozen=True, slots=True)
class SignalSent(Event):
    """The kernel killed a process with a signal for a bad memory access."""

    pid: int
    signal: str
    va: int
    reason: str

    def describe(self) -> str:
        return f"pid {self.pid}: {self.signal} at {self.va:#x} ({self.reason})"


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
