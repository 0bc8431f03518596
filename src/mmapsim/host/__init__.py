"""The API.md contract on this computer's real Linux kernel: the oracle.

``HostMachine`` runs every call as a real system call in a real process, so
that each semantic test can run on the simulator and on Linux alike.  Importing
this package works everywhere; creating a HostMachine needs Linux.
"""

from __future__ import annotations

from mmapsim.host.machine import HostMachine
from mmapsim.host.process import HostProcess

__all__ = ["HostMachine", "HostProcess"]
