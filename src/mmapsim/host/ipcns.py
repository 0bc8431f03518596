"""Each HostMachine in an IPC namespace of its own.

The zygote calls :func:`unshare_ipc` before it forks any worker, so every
process of the machine shares one System V IPC namespace (CLONE_NEWIPC) that
no other machine sees: keys and ids start afresh (the first segment is id 0,
as on the simulator), and the namespace, with every segment still in it, goes
when the machine's last process ends (``close()``).  It needs CAP_SYS_ADMIN;
without it the machine stays in the computer's namespace (its segments are
then the computer's, and outlive the machine unless removed).
"""

from __future__ import annotations

import ctypes
from typing import Final

CLONE_NEWIPC: Final = 0x08000000

_libc = ctypes.CDLL(None, use_errno=True)


def unshare_ipc() -> bool:
    """unshare(CLONE_NEWIPC) for this process; False when not allowed."""
    return int(_libc.unshare(CLONE_NEWIPC)) == 0
