"""Process calls: fork(2), _exit(2), execve(2), and a fatal signal's default action.

The image of a process made by ``Machine.spawn()`` is
:mod:`mmapsim.loader.first_image`'s; the dynamic loader that runs after
execve is user space (:mod:`mmapsim.userspace.ld_so`).
"""

from __future__ import annotations

import errno
import signal
from collections.abc import Sequence

from mmapsim.errors import syscall_error
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.kernel import Kernel, Task
from mmapsim.loader import binfmt
from mmapsim.loader.aslr import Randomizer
from mmapsim.loader.binfmt import LoadedObject
from mmapsim.mm.fork import dup_mmap


def sys_fork(k: Kernel, task: Task, name: str | None) -> Task:
    """Implements fork(2): a copy-on-write copy of memory; the fds share descriptions."""
    child = k.new_task(name, parent=task)
    dup_mmap(task.mm, child.mm)
    k.dup_fds(task, child)
    return child


def sys_exit(k: Kernel, task: Task, status: int) -> None:
    """Implements _exit(2): every mapping is removed and every fd closed."""
    k.teardown(task)
    task.exit_status = status & 0xFF


def kill(k: Kernel, task: Task, sig: signal.Signals) -> None:
    """The default action of a fatal signal: the process dies."""
    k.teardown(task, "signal")
    task.term_signal = sig


def check_exec(k: Kernel, path: str) -> Inode:
    """execve's checks before the old image is given up: ENOENT, EACCES,
    ETXTBSY, ENOEXEC.

    Linux's do_open_execat (a regular file with an execute bit: root too needs
    one; none of its open file descriptions, held by an fd or a mapping, open
    for writing: ``exe_file_deny_write_access``) and the ELF magic that
    search_binary_handler's handlers look for.
    """
    inode = k.fs.lookup(path)
    if inode.kind is not InodeKind.REGULAR or not inode.mode & 0o111:
        raise syscall_error(errno.EACCES)
    if inode.writers:
        raise syscall_error(errno.ETXTBSY)
    head = k.pagecache.read(inode, 0, 4)
    if head != b"\x7fELF":
        raise syscall_error(errno.ENOEXEC)
    return inode


def sys_execve(
    k: Kernel,
    task: Task,
    path: str,
    argv: Sequence[str],
    envp: Sequence[str],
    rand: Randomizer,
) -> tuple[LoadedObject, LoadedObject | None]:
    """Implements execve(2) for ELF programs (Linux's do_execveat_common).

    Every check comes before the old image is given up, so a failing call
    changes nothing.  Returns the program and its interpreter as mapped:
    what the auxiliary vector tells the new image (AT_PHDR, AT_ENTRY,
    AT_BASE), for the dynamic loader, which runs in user space after the call
    (:mod:`mmapsim.userspace.ld_so`).
    Deviation: ``#!`` scripts are not run (ENOEXEC).
    """
    inode = check_exec(k, path)
    prog = binfmt.prepare(k, inode, path)
    return binfmt.load_elf_binary(k, task, prog, argv, envp, rand)
