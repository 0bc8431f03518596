"""A worker's children stay zombies until the program waits for them.

The zygote reaps whatever ends (it is the machine's child subreaper); a worker
must not, because waitpid(2) is a call of the program: a child that exits stays
a zombie of its parent worker until the program's waitpid, or until the parent
ends and the zygote inherits and reaps it.  So a worker's SIGCHLD handler only
*looks*: for each child it asks ``waitid(WEXITED | WNOHANG | WNOWAIT)``, which
reports an ended child without reaping it, and publishes the wait status in
the slot table, so that the controller knows the child has ended.
"""

from __future__ import annotations

import os
import signal

from mmapsim.host.slots import SlotTable


def children() -> list[int]:
    """The pids of this process's children, oldest first (/proc's ``children``)."""
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def wait_status(result: os.waitid_result) -> int:
    """The C wait status that waitpid would give for a waitid result."""
    if result.si_code == os.CLD_EXITED:
        return (result.si_status & 0xFF) << 8
    core = 0x80 if result.si_code == os.CLD_DUMPED else 0
    return result.si_status | core


def publish_ended(table: SlotTable) -> None:
    """Publish the wait status of every child that has ended, reaping none."""
    for pid in children():
        try:
            result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            continue
        if result is not None:
            table.publish(pid, wait_status(result))


def install_watcher(table: SlotTable) -> None:
    """Make SIGCHLD publish ended children without reaping them (see the module doc)."""

    def watch(_signum: int, _frame: object) -> None:
        publish_ended(table)

    signal.signal(signal.SIGCHLD, watch)
