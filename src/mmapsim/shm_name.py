"""glibc's shm_open(3) and shm_unlink(3): a POSIX shared memory name to a path.

POSIX shared memory objects are files of the tmpfs at ``/dev/shm``; glibc
(2.36) turns the name into a path and calls open(2) or unlink(2).  Both
machines do exactly what glibc does around the system call:

- leading slashes are dropped; an empty name, or one with another ``/``, is
  EINVAL for shm_open and ENOENT for shm_unlink; a name longer than NAME_MAX
  is ENAMETOOLONG;
- shm_open opens ``/dev/shm/NAME`` with the caller's flags plus O_NOFOLLOW and
  O_CLOEXEC (POSIX wants FD_CLOEXEC), and answers EISDIR with EINVAL;
- shm_unlink answers EPERM with EACCES.
"""

from __future__ import annotations

import errno
from typing import Final

from mmapsim.constants import O_CLOEXEC, O_NOFOLLOW
from mmapsim.errors import syscall_error

SHMDIR: Final = "/dev/shm/"
NAME_MAX: Final = 255
#: What shm_open adds to the caller's flags.
SHM_OPEN_FLAGS: Final = O_NOFOLLOW | O_CLOEXEC


def shm_path(name: str, invalid: int) -> str:
    """``/dev/shm/NAME`` for ``name``; OSError ``invalid`` for a name glibc refuses."""
    bare = name.lstrip("/")
    if not bare or "/" in bare:
        raise syscall_error(invalid)
    if len(bare.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise syscall_error(errno.ENAMETOOLONG)
    return SHMDIR + bare


def open_error(exc: OSError) -> OSError:
    """What shm_open reports for open(2)'s error ``exc``."""
    if exc.errno == errno.EISDIR:
        return syscall_error(errno.EINVAL)
    return exc


def unlink_error(exc: OSError) -> OSError:
    """What shm_unlink reports for unlink(2)'s error ``exc``."""
    if exc.errno == errno.EPERM:
        return syscall_error(errno.EACCES)
    return exc
