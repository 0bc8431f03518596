"""Process calls: fork(2), _exit(2), execve(2), and the image of a new process.

A process made by ``Machine.spawn()`` looks as if a small position-independent
program had just been exec'd with address-space randomisation off: its file
``/usr/bin/prog`` mapped privately (headers r--, text r-x, read-only data r--,
data rw-) at Linux's PIE base, a ``[heap]`` after it (the 132 KiB that the
C library's first ``malloc`` asks ``brk`` for), and a ``[stack]`` below the top
of user space.  Mappings made with ``mmap`` then grow down from ``mmap_base``.
"""

from __future__ import annotations

import errno
import signal
from collections.abc import Sequence

from mmapsim.constants import PAGE_SIZE, OpenFlag
from mmapsim.errors import syscall_error
from mmapsim.fs.disk import Disk
from mmapsim.fs.file import FdEntry, OpenFile
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.kernel import Kernel, Task
from mmapsim.loader import binfmt
from mmapsim.loader.aslr import Randomizer
from mmapsim.mm import mapping
from mmapsim.mm.fork import dup_mmap
from mmapsim.mm.memlayout import PIE_BASE, STACK_TOP
from mmapsim.mm.vma import Vma, VmFlag
from mmapsim.userspace import ld_so

PROGRAM_PATH = "/usr/bin/prog"
_MAY = VmFlag.MAYREAD | VmFlag.MAYWRITE | VmFlag.MAYEXEC
#: (page index in the file, pages, vm flags) of the program's segments.
_SEGMENTS = (
    (0, 1, VmFlag.READ),
    (1, 2, VmFlag.READ | VmFlag.EXEC),
    (3, 1, VmFlag.READ),
    (4, 1, VmFlag.READ | VmFlag.WRITE | VmFlag.ACCOUNT),
)
HEAP_SIZE = 0x21000
STACK_SIZE = 0x21000


def program_image() -> bytes:
    """The bytes of the small program every spawned process runs."""
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + b"(mmapsim's little program)"
    text = b"\x55\x48\x89\xe5" * 16  # push %rbp; mov %rsp,%rbp ...
    pages = [header, text, b"", b"Hello from .rodata\0", b"initialised data\0"]
    image = bytearray()
    for page in pages:
        image += page.ljust(PAGE_SIZE, b"\0")
    return bytes(image)


def ensure_program(k: Kernel) -> None:
    """Install the program file once per machine."""
    if PROGRAM_PATH not in k.fs.names:
        # Part of the system, as a host mount's files are: it takes none of the
        # disk's capacity (its pages are on disk, not reserved blocks).
        image = program_image()
        inode = k.fs.create(PROGRAM_PATH, 0o755)
        inode.disk = Disk(image)
        inode.size = len(image)
        for pgoff in range(len(image) // PAGE_SIZE):  # cached, as written by a tool
            k.pagecache.find_or_read(inode, pgoff)


def setup_image(k: Kernel, task: Task) -> None:
    """Map the program, its heap and its stack into an empty address space."""
    ensure_program(k)
    inode = k.fs.lookup(PROGRAM_PATH)
    ofd = OpenFile(inode, OpenFlag.RDONLY, PROGRAM_PATH)
    mm = task.mm
    for page, pages, flags in _SEGMENTS:
        start = PIE_BASE + page * PAGE_SIZE
        mapping.map_region(mm, start, pages * PAGE_SIZE, flags | _MAY, page, ofd, inode)
    data_end = PIE_BASE + 5 * PAGE_SIZE
    mm.brk_start = data_end
    _special(task, data_end, data_end + HEAP_SIZE, VmFlag(0), "[heap]")
    _special(task, STACK_TOP - STACK_SIZE, STACK_TOP, VmFlag.GROWSDOWN, "[stack]")
    open_standard_fds(k, task)


def open_standard_fds(k: Kernel, task: Task) -> None:
    """Standard input, output and error (fds 0, 1, 2), so the first open() gets 3.

    They are one description of ``/dev/null`` opened for reading and writing,
    as a shell's terminal is shared by the three.
    """
    null = OpenFile(k.fs.lookup("/dev/null"), OpenFlag.RDWR, "/dev/null")
    for _ in range(3):
        k.install_fd(task, null, False)


def _special(task: Task, start: int, end: int, extra: VmFlag, name: str) -> None:
    flags = VmFlag.READ | VmFlag.WRITE | _MAY | VmFlag.ACCOUNT | extra
    vma = Vma(start, end, flags, start // PAGE_SIZE, name=name)
    task.mm.insert_vma(vma)


def sys_fork(k: Kernel, task: Task, name: str | None) -> Task:
    """Implements fork(2): a copy-on-write copy of memory; the fds share descriptions."""
    child = k.new_task(name, parent=task)
    dup_mmap(task.mm, child.mm)
    for fd, entry in task.fds.entries.items():
        k.get_file(entry.file)
        pipe = entry.file.inode.pipe
        if pipe is not None:
            pipe.readers += entry.file.readable
            pipe.writers += entry.file.writable
        child.fds.entries[fd] = FdEntry(entry.file, entry.cloexec)
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
    libraries: bool,
) -> None:
    """Implements execve(2) for ELF programs (Linux's do_execveat_common).

    Every check comes before the old image is given up, so a failing call
    changes nothing.  With ``libraries``, the mappings that the dynamic loader
    makes for the program's needed libraries are made too
    (:mod:`mmapsim.userspace.ld_so`); a library that cannot be found ends the
    process with status 127 after the exec, as ld.so does.
    Deviation: ``#!`` scripts are not run (ENOEXEC).
    """
    inode = check_exec(k, path)
    prog = binfmt.prepare(k, inode, path)
    exe, interp = binfmt.load_elf_binary(k, task, prog, argv, envp, rand)
    if libraries and interp is not None:
        try:
            ld_so.map_libraries(k, task, exe, interp)
        except OSError:
            sys_exit(k, task, 127)
