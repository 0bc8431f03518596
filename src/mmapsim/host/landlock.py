"""Landlock (Linux 5.13+) through its three system calls: a ruleset of paths and rights.

A process that calls :meth:`Ruleset.restrict_self` (after no_new_privs) can from
then on open files only as the rules allow, and so can every process it forks
or execs: it cannot undo it.  The rights handled are those of the running
kernel's ABI (``abi()``); TCP bind/connect (ABI 4) is handled with no rule, so
denied, and signals and abstract Unix sockets are scoped to the domain (ABI 6).
"""

from __future__ import annotations

import ctypes
import os
from typing import Final

from mmapsim.host import libc

SYS_CREATE_RULESET: Final = 444
SYS_ADD_RULE: Final = 445
SYS_RESTRICT_SELF: Final = 446
CREATE_RULESET_VERSION: Final = 1
RULE_PATH_BENEATH: Final = 1

EXECUTE: Final = 1 << 0
WRITE_FILE: Final = 1 << 1
READ_FILE: Final = 1 << 2
READ_DIR: Final = 1 << 3
TRUNCATE: Final = 1 << 14
IOCTL_DEV: Final = 1 << 15
READ: Final = READ_FILE | READ_DIR
#: The rights that a rule on a regular file (not a directory) may carry.
FILE_RIGHTS: Final = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    if abi >= 2:
        rights |= 1 << 13  # REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


class _Attr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("allowed_access", ctypes.c_uint64),
        ("parent_fd", ctypes.c_int32),
    ]


def abi() -> int:
    """The Landlock ABI version of the running kernel (0: none, or disabled)."""
    try:
        return libc.syscall(SYS_CREATE_RULESET, 0, 0, CREATE_RULESET_VERSION)
    except OSError:
        return 0


class Ruleset:
    """A Landlock ruleset being built; ``restrict_self`` puts it in force."""

    def __init__(self, version: int) -> None:
        self.all_fs = _fs_rights(version)
        attr = _Attr(self.all_fs, 3 if version >= 4 else 0, 3 if version >= 6 else 0)
        size = 8 if version < 4 else (16 if version < 6 else 24)
        self.fd = libc.syscall(SYS_CREATE_RULESET, ctypes.addressof(attr), size, 0)

    def allow(self, path: str, rights: int) -> None:
        """Allow ``rights`` beneath ``path`` (only the file rights on a file)."""
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            if not os.path.isdir(path):
                rights &= FILE_RIGHTS
            rule = _PathBeneath(rights & self.all_fs, fd)
            libc.syscall(SYS_ADD_RULE, self.fd, RULE_PATH_BENEATH, ctypes.addressof(rule), 0)
        finally:
            os.close(fd)

    def restrict_self(self) -> None:
        """Put the rules in force for this process and all it will fork or exec."""
        try:
            libc.syscall(SYS_RESTRICT_SELF, self.fd, 0)
        finally:
            os.close(self.fd)
