"""execve's ELF loader: Linux's load_elf_binary, with private file mappings.

Steps, in Linux's order (fs/binfmt_elf.c, fs/exec.c):

1. Before the point of no return: read the program's headers (ENOEXEC if it is
   not an x86-64 ELF program) and its ``PT_INTERP`` interpreter's (ENOENT if it
   is missing, ELIBBAD if it is not a loadable ELF file).  A failure here
   changes nothing.
2. ``begin_new_exec``: the old address space goes (``exec_mmap``; the page
   cache keeps everything written through shared mappings), close-on-exec fds
   are closed, the command name becomes the file's base name.
3. ``elf_load`` per ``PT_LOAD`` segment: a private file mapping (MAP_FIXED) of
   its pages with its protections and a page-aligned file offset; the rest of
   the last file page after ``p_filesz`` is zeroed (``padzero``, which copies
   the page on write) and the whole pages of ``.bss`` beyond it are anonymous
   memory (``vm_brk_flags``).  A position-independent program goes at
   ``ELF_ET_DYN_BASE``; one run directly with no interpreter, and the
   interpreter itself, where a plain ``mmap`` of their whole span would go.
4. ``load_elf_interp`` maps the interpreter the same way; then the vDSO
   (``[vvar]``, ``[vvar_vclock]``, ``[vdso]``) goes in the mapping area;
   the break starts after ``.bss`` (``set_brk``); the stack is built
   (:mod:`mmapsim.loader.stack`).
"""

from __future__ import annotations

import contextlib
import errno
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from mmapsim.constants import PAGE_SIZE, OpenFlag, Prot
from mmapsim.errors import KernelPanic, syscall_error
from mmapsim.fs.file import OpenFile
from mmapsim.fs.inode import Inode, InodeKind
from mmapsim.kernel import Kernel, Task
from mmapsim.loader import stack
from mmapsim.loader.aslr import Randomizer
from mmapsim.loader.elf import ElfImage, Segment, read_elf
from mmapsim.mm import mapping
from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.fault import MemoryFault
from mmapsim.mm.memlayout import page_align, page_down
from mmapsim.mm.unmapped_area import get_unmapped_area
from mmapsim.mm.vma import Vma, VmFlag, prot_to_vm

_MAY = VmFlag.MAYREAD | VmFlag.MAYWRITE | VmFlag.MAYEXEC
#: vm_brk_flags's VMAs: VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT.
BRK_FLAGS = VmFlag.READ | VmFlag.WRITE | _MAY | VmFlag.ACCOUNT
#: The vDSO of Linux 6.18 x86-64: (name, pages, flags), lowest first.
VDSO_LAYOUT = (
    ("[vvar]", 4, VmFlag.READ | VmFlag.MAYREAD),
    ("[vvar_vclock]", 2, VmFlag.READ | VmFlag.MAYREAD),
    ("[vdso]", 2, VmFlag.READ | VmFlag.EXEC | _MAY),
)
COMM_LEN = 15  # TASK_COMM_LEN - 1


@dataclass(frozen=True, slots=True)
class LoadedObject:
    """One ELF file mapped into an address space at ``bias``."""

    image: ElfImage
    file: OpenFile
    bias: int

    @property
    def end(self) -> int:
        """The highest address its segments reach (``elf_brk``)."""
        return max(self.bias + s.vaddr + s.memsz for s in self.image.segments)


@dataclass(frozen=True, slots=True)
class Program:
    """A program checked and ready to load: its file and its interpreter's."""

    path: str
    inode: Inode
    image: ElfImage
    interp: tuple[Inode, ElfImage] | None


def open_exec(k: Kernel, path: str) -> Inode:
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


def do_execve(
    k: Kernel,
    task: Task,
    path: str,
    argv: Sequence[str],
    envp: Sequence[str],
    rand: Randomizer,
) -> tuple[LoadedObject, LoadedObject | None]:
    """do_execveat_common: open, check and load ``path``; returns what was mapped.

    Every check comes before the old image is given up (``open_exec``,
    ``prepare``), so a failure changes nothing.
    """
    inode = open_exec(k, path)
    prog = prepare(k, inode, path)
    return load_elf_binary(k, task, prog, argv, envp, rand)


def prepare(k: Kernel, inode: Inode, path: str) -> Program:
    """Everything execve checks before the point of no return (errors change nothing)."""
    image = read_elf(k.pagecache, inode)
    interp = None
    if image.interp is not None:
        interp_inode = k.fs.lookup(image.interp)
        if interp_inode.kind is not InodeKind.REGULAR:
            raise syscall_error(errno.EACCES)
        try:
            interp_image = read_elf(k.pagecache, interp_inode)
        except OSError as e:
            raise syscall_error(errno.ELIBBAD) from e
        interp = (interp_inode, interp_image)
    return Program(path, inode, image, interp)


def begin_new_exec(k: Kernel, task: Task, path: str) -> None:
    """The point of no return: the old memory, close-on-exec fds and name go."""
    task.mm.teardown("execve")
    for fd, entry in list(task.fds.entries.items()):
        if entry.cloexec:
            del task.fds.entries[fd]
            k.drop_fd(entry.file)
    task.name = posixpath.basename(path)[:COMM_LEN]


def load_elf_binary(
    k: Kernel,
    task: Task,
    prog: Program,
    argv: Sequence[str],
    envp: Sequence[str],
    rand: Randomizer,
) -> tuple[LoadedObject, LoadedObject | None]:
    """Replace ``task``'s image by ``prog``; returns what was mapped.

    Preconditions: ``prog`` is :func:`prepare`'s, for this machine, and
    nothing changed since: this is past the point of no return.
    """
    begin_new_exec(k, task, prog.path)
    mm = task.mm
    mm.mmap_base = rand.mmap_base()
    exe = _open_object(prog.inode, prog.image)
    if prog.image.dynamic and prog.interp is not None:
        base = rand.pie_base()
        if prog.image.max_align > PAGE_SIZE:
            base &= ~(prog.image.max_align - 1)
        exe = map_object(mm, exe, page_down(base - prog.image.segments[0].vaddr))
    else:
        exe = map_object(mm, exe, None if prog.image.dynamic else 0)
    interp = None
    if prog.interp is not None:
        interp_inode, interp_image = prog.interp
        interp = _open_object(interp_inode, interp_image)
        interp = map_object(mm, interp, None if interp_image.dynamic else 0)
    vdso = map_vdso(mm)
    set_brk(mm, exe.end, rand, prog.image.dynamic and interp is None)
    info = stack.ProgramInfo(
        phdr=exe.bias + _phdr_vaddr(prog.image),
        phnum=prog.image.phnum,
        entry=exe.bias + prog.image.entry,
        interp_base=0 if interp is None else interp.bias,
        vdso=vdso,
    )
    top = rand.stack_top()
    stack.setup_stack(mm, top, prog.path, argv, envp, info, rand.random_bytes())
    return exe, interp


def _open_object(inode: Inode, image: ElfImage) -> LoadedObject:
    return LoadedObject(image, OpenFile(inode, OpenFlag.RDONLY, inode.name), 0)


def _phdr_vaddr(image: ElfImage) -> int:
    """Where the program headers are in memory (AT_PHDR): inside the segment holding them."""
    for seg in image.segments:
        if seg.offset <= image.phoff < seg.offset + seg.filesz:
            return seg.vaddr + image.phoff - seg.offset
    return image.phoff


def map_object(mm: AddressSpace, obj: LoadedObject, bias: int | None) -> LoadedObject:
    """elf_load for every PT_LOAD; ``bias`` None: where mmap of the whole span would go."""
    image = obj.image
    if bias is None:
        first = page_down(image.segments[0].vaddr)
        addr = get_unmapped_area(mm, 0, page_align(image.total_size), False)
        if addr is None:
            raise KernelPanic("map_object", "no room for the program after the point of no return")
        bias = addr - first
    for seg in image.segments:
        elf_load(mm, obj.file, bias, seg)
    return LoadedObject(image, obj.file, bias)


def file_vm_flags(prot: Prot) -> VmFlag:
    """The vm_flags of a private file mapping with ``prot`` (accounted when writable)."""
    flags = prot_to_vm(prot) | _MAY
    return flags | VmFlag.ACCOUNT if prot & Prot.WRITE else flags


def elf_load(mm: AddressSpace, file: OpenFile, bias: int, seg: Segment) -> None:
    """Linux's elf_load: one segment, its zeroed tail and its anonymous .bss pages."""
    addr = bias + seg.vaddr
    start = page_down(addr)
    zero_start = start
    if seg.filesz:
        length = page_align(seg.filesz + (addr - start))
        pgoff = (seg.offset - (addr - start)) // PAGE_SIZE
        mapping.map_region(mm, start, length, file_vm_flags(seg.prot), pgoff, file, file.inode)
        zero_start = addr + seg.filesz
        if seg.memsz > seg.filesz and seg.prot & Prot.WRITE:
            padzero(mm, zero_start)
    zero_end = addr + seg.memsz
    if seg.memsz > seg.filesz and page_align(zero_end) > page_align(zero_start):
        bss = page_align(zero_start)
        flags = BRK_FLAGS | (VmFlag.EXEC if seg.prot & Prot.EXEC else VmFlag(0))
        mapping.map_region(mm, bss, page_align(zero_end) - bss, flags, bss // PAGE_SIZE, None, None)


def padzero(mm: AddressSpace, va: int) -> None:
    """Zero from ``va`` to the end of its page (clear_user: the page is copied)."""
    n = -va % PAGE_SIZE
    if n:
        with contextlib.suppress(MemoryFault):  # as Linux ignores a failed padzero
            mm.store(va, bytes(n))


def map_vdso(mm: AddressSpace) -> int:
    """map_vdso: the vvar pages and the vDSO text, together, in the mapping area."""
    total = sum(pages for _, pages, _ in VDSO_LAYOUT) * PAGE_SIZE
    addr = get_unmapped_area(mm, 0, total, False)
    if addr is None:
        raise KernelPanic("map_vdso", "no room for the vDSO")
    va = addr
    for name, pages, flags in VDSO_LAYOUT:
        vma = Vma(va, va + pages * PAGE_SIZE, flags, 0, name=name)
        mm.insert_vma(vma)
        va = vma.end
    return va - VDSO_LAYOUT[-1][1] * PAGE_SIZE


def set_brk(mm: AddressSpace, elf_brk: int, rand: Randomizer, loader_run_directly: bool) -> None:
    """set_brk: the break starts at the page after the data (randomised if asked).

    No VMA is ``[heap]`` yet: Linux 6.18 names an anonymous VMA so only when it
    overlaps ``(start_brk, brk)`` (``vma_is_initial_heap``), which is empty now.
    """
    mm.brk_start = mm.brk = rand.brk_start(page_align(elf_brk), loader_run_directly)
