"""dup(2) and dup2(2): another descriptor for the same open file description.

The new descriptor shares the description, so the file position and the
O_APPEND flag are shared with the old one (a read through either moves both);
its close-on-exec flag is clear.  dup2 closes what ``fd2`` referred to first.
"""

from __future__ import annotations

import errno

from mmapsim.errors import syscall_error
from mmapsim.kernel import Kernel, Task


def sys_dup(k: Kernel, task: Task, fd: int) -> int:
    """Implements dup(2): the lowest free descriptor (EBADF, EMFILE)."""
    ofd = k.fd_file(task, fd)
    return k.install_fd(task, ofd, False)


def sys_dup2(k: Kernel, task: Task, fd: int, fd2: int) -> int:
    """Implements dup2(2); returns ``fd2``.

    As Linux: ``fd == fd2`` returns ``fd2`` if it is open (else EBADF); ``fd2``
    outside 0 .. RLIMIT_NOFILE-1 is EBADF, checked before ``fd``.
    """
    if fd == fd2:
        k.fd_file(task, fd)
        return fd2
    if not 0 <= fd2 < task.fds.limit:
        raise syscall_error(errno.EBADF)
    k.replace_fd(task, fd2, k.fd_file(task, fd))
    return fd2
