"""``sleep N`` on either machine: time passes, and the writeback daemon may run.

On the simulator the machine's clock moves (:meth:`mmapsim.Machine.advance`)
and the writeback daemon wakes on the way; the step's output says when it
wrote which pages.  On the real kernel the process really sleeps, and Linux's
flusher threads do what they do, unseen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from mmapsim.clock import NS_PER_SEC, seconds
from mmapsim.events import Writeback

_WRITER = {"flusher": "writeback daemon"}


def sleep(machine: Any, ns: int) -> tuple[str, str | None]:
    """Let ``ns`` nanoseconds pass on ``machine``: the step's note and output."""
    note = f"{seconds(ns)} pass"
    advance: Callable[[float], int] | None = getattr(machine, "advance", None)
    if advance is None:
        time.sleep(ns / NS_PER_SEC)
        return note, None
    bus = getattr(machine, "events", None)
    with bus.record() if bus is not None else nullcontext([]) as events:
        advance(ns / NS_PER_SEC)
    written = [e for e in events if isinstance(e, Writeback)]
    return note, "\n".join(written_lines(written)) or None


def written_lines(events: list[Writeback]) -> list[str]:
    """One line per writer and file at each moment: when, and which pages it wrote."""
    by_time: dict[tuple[int, str, str], list[int]] = {}
    for event in events:
        by_time.setdefault((event.uptime_ns, event.cause, event.path), []).append(event.pgoff)
    return [
        f"at {seconds(at)} the {_WRITER.get(cause, cause)} wrote {path} "
        f"page{'s' if len(pgoffs) > 1 else ''} {', '.join(map(str, pgoffs))} to disk"
        for (at, cause, path), pgoffs in by_time.items()
    ]
