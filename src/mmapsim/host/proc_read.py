"""Reading a real process's /proc files from the controller.

The controller reads ``/proc/<pid>/maps``, ``smaps`` and ``pagemap`` itself,
while the worker waits for its next request, so that reading never disturbs
the address space being read.
"""

from __future__ import annotations

import errno
import os

from mmapsim.constants import PAGE_SHIFT
from mmapsim.pageinfo import PageInfo

_ABSENT = PageInfo(present=False, pfn=None, file_or_shared=False, exclusive=False)


def read_text(pid: int, name: str) -> str:
    """The text of ``/proc/<pid>/<name>``."""
    with open(f"/proc/{pid}/{name}", encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def pagemap(pid: int, va: int) -> PageInfo:
    """The pagemap entry of the page holding ``va`` in process ``pid``.

    Raises PermissionError when the kernel hides frame numbers (it shows them as
    0 to readers without CAP_SYS_ADMIN), rather than returning wrong frames.
    """
    fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY | os.O_CLOEXEC)
    try:
        raw = os.pread(fd, 8, (va >> PAGE_SHIFT) * 8)
    finally:
        os.close(fd)
    if len(raw) < 8:
        return _ABSENT
    info = PageInfo.decode(int.from_bytes(raw, "little"))
    if info.present and info.pfn == 0:
        raise PermissionError(
            errno.EPERM,
            "frame numbers need root: /proc/<pid>/pagemap shows them as 0 "
            "to a reader without CAP_SYS_ADMIN",
        )
    return info
