"""What this computer's CPU can do, for a simulated machine that should match it."""

from __future__ import annotations

from functools import cache


@cache
def has_pkeys() -> bool:
    """Whether this CPU has protection keys enabled (``pku`` and ``ospke`` in
    /proc/cpuinfo): then Linux makes ``PROT_EXEC`` alone execute-only memory.
    A machine that compares itself with this one passes ``Machine(pkeys=has_pkeys())``."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return {"pku", "ospke"} <= flags
    except OSError:
        pass
    return False
