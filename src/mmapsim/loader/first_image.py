"""The image of a process made by ``Machine.spawn()``: a small program just exec'd.

A spawned process looks as if a small position-independent program had just
been exec'd with address-space randomisation off: its file ``/usr/bin/prog``
mapped privately (headers r--, text r-x, read-only data r--, data rw-) at
Linux's PIE base, a ``[heap]`` after it (the 132 KiB that the C library's
first ``malloc`` asks ``brk`` for), and a ``[stack]`` below the top of user
space, with fds 0, 1 and 2 open.  Mappings made with ``mmap`` then grow down
from ``mmap_base``.
"""

from __future__ import annotations

from mmapsim.constants import PAGE_SIZE, OpenFlag
from mmapsim.fs.disk import Disk
from mmapsim.fs.file import OpenFile
from mmapsim.kernel import Kernel, Task
from mmapsim.mm import mapping
from mmapsim.mm.memlayout import PIE_BASE, STACK_TOP
from mmapsim.mm.vma import Vma, VmFlag

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
        for pgoff in range(inode.pages):  # cached, as written by a tool
            k.pagecache.find_or_read(inode, pgoff)


def setup_image(k: Kernel, task: Task) -> None:
    """Map the program, its heap and its stack, and open fds 0, 1 and 2.

    Preconditions: ``task`` is new (``Kernel.new_task``): an empty address
    space and an empty fd table.
    """
    ensure_program(k)
    inode = k.fs.lookup(PROGRAM_PATH)
    ofd = OpenFile(inode, OpenFlag.RDONLY, PROGRAM_PATH)
    mm = task.mm
    for page, pages, flags in _SEGMENTS:
        start = PIE_BASE + page * PAGE_SIZE
        mapping.map_region(mm, start, pages * PAGE_SIZE, flags | _MAY, page, ofd, inode)
    data_end = PIE_BASE + 5 * PAGE_SIZE
    mm.brk_start = data_end
    _map_special(task, data_end, data_end + HEAP_SIZE, VmFlag(0), "[heap]")
    _map_special(task, STACK_TOP - STACK_SIZE, STACK_TOP, VmFlag.GROWSDOWN, "[stack]")
    open_standard_fds(k, task)


def open_standard_fds(k: Kernel, task: Task) -> None:
    """Standard input, output and error (fds 0, 1, 2), so the first open() gets 3.

    They are one description of ``/dev/null`` opened for reading and writing,
    as a shell's terminal is shared by the three.
    """
    null = OpenFile(k.fs.lookup("/dev/null"), OpenFlag.RDWR, "/dev/null")
    for _ in range(3):
        k.install_fd(task, null, False)


def _map_special(task: Task, start: int, end: int, extra: VmFlag, name: str) -> None:
    """An anonymous read-write VMA with a name of its own (``[heap]``, ``[stack]``)."""
    flags = VmFlag.READ | VmFlag.WRITE | _MAY | VmFlag.ACCOUNT | extra
    vma = Vma(start, end, flags, start // PAGE_SIZE, name=name)
    task.mm.insert_vma(vma)
