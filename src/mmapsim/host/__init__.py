"""The API.md contract on this computer's real Linux kernel: the oracle.

``HostMachine`` runs every call as a real system call in a real process, so
that each semantic test can run on the simulator and on Linux alike.  Importing
this package works everywhere; creating a HostMachine needs Linux.

The controller-side classes load on first use, so that the worker processes,
which import ``mmapsim.host.master`` and friends, start without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmapsim.errors import HostRefused

if TYPE_CHECKING:
    from mmapsim.host.host_machine import HostMachine
    from mmapsim.host.host_process import HostProcess

__all__ = ["HostMachine", "HostProcess", "HostRefused"]


def __getattr__(name: str) -> object:
    if name == "HostMachine":
        from mmapsim.host.host_machine import HostMachine

        return HostMachine
    if name == "HostProcess":
        from mmapsim.host.host_process import HostProcess

        return HostProcess
    raise AttributeError(f"module 'mmapsim.host' has no attribute {name!r}")
