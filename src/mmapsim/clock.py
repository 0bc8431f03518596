"""The machine's time: a simulated uptime, and the time stamps files carry.

A simulated machine does not follow the host's clock.  Its *uptime* (what
``CLOCK_MONOTONIC`` and ``/proc/uptime`` count on Linux) starts at 0 when the
machine boots and moves only when it is told to: ``Machine.advance(seconds)``
or a scenario's ``sleep N``.  Timers that Linux runs on jiffies, such as the
writeback daemon's two intervals (:mod:`mmapsim.fs.writeback`), run on it, so a
run is the same every time.

Time stamps (``st_mtime`` and friends) are wall-clock nanoseconds, as on
Linux: the host's time plus the simulated time that has passed, and never the
same twice, so that a change is always "later".
"""

from __future__ import annotations

import time

NS_PER_SEC = 1_000_000_000


class Clock:
    """Uptime in nanoseconds (moved by :meth:`advance_to`) and wall-clock stamps."""

    __slots__ = ("_last", "uptime_ns")

    def __init__(self) -> None:
        self.uptime_ns = 0
        self._last = 0

    def now_ns(self) -> int:
        """A wall-clock time stamp, later than every stamp given before."""
        now = max(time.time_ns() + self.uptime_ns, self._last + 1)
        self._last = now
        return now

    def advance_to(self, uptime_ns: int) -> None:
        """Move the uptime forward to ``uptime_ns`` (time never runs backwards)."""
        if uptime_ns < self.uptime_ns:
            raise ValueError("the clock never runs backwards")
        self.uptime_ns = uptime_ns


def seconds(ns: int) -> str:
    """``ns`` of uptime as a reader wants it: ``35 s``, ``0.5 s``, ``30.25 s``."""
    whole, frac = divmod(ns, NS_PER_SEC)
    if not frac:
        return f"{whole} s"
    return f"{ns / NS_PER_SEC:.9f}".rstrip("0") + " s"
