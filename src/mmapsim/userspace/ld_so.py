"""The dynamic loader's mappings: what glibc's ld.so does before ``main``.

After the kernel has mapped a dynamic program and its interpreter, ld.so maps
the program's needed libraries with ordinary system calls, and this module
makes the same calls, in the same order, as glibc 2.3x's ld.so does for a
small program (as ``strace`` shows it):

1. its first ``mmap`` of anonymous memory (two pages, the minimal ``malloc``);
2. ``/etc/ld.so.cache`` opened and mapped privately (when the machine has it);
3. each needed library, breadth first (``_dl_map_object_deps``), found in the
   standard directories, and mapped by ``_dl_map_segments``: one ``mmap`` of
   the object's whole span with its first segment's protection (the
   reservation, placed top-down), a ``MAP_FIXED`` private mapping for every
   further segment over it, ``PROT_NONE`` on any hole between segments, the
   rest of the last file page of ``.bss`` zeroed (which copies it) and
   anonymous ``MAP_FIXED`` memory for the whole pages of ``.bss``;
4. after relocation, ``PT_GNU_RELRO`` made read-only (``_dl_protect_relro``)
   in the libraries, the program and ld.so itself;
5. the cache unmapped.

Deviations: the static TLS block ld.so allocates (a few anonymous pages) is not
mapped, nor anything the program itself does later (locale files, ``malloc``).
Because every library's text is a private file mapping of the same page-cache
pages, two processes running the same program share those frames.
"""

from __future__ import annotations

import errno
import posixpath

from mmapsim.constants import PAGE_SIZE, MapFlag, OpenFlag, Prot
from mmapsim.errors import syscall_error
from mmapsim.kernel import Kernel, Task
from mmapsim.loader.binfmt import LoadedObject
from mmapsim.loader.elf import ElfImage, Segment, read_elf
from mmapsim.mm.memlayout import page_align, page_down
from mmapsim.syscalls import files, fork_exec, mman

#: Where ld.so looks for a library that ld.so.cache would name (x86-64 Debian/Ubuntu).
SEARCH_DIRS = (
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
)
LD_SO_CACHE = "/etc/ld.so.cache"
RTLD_MALLOC_SIZE = 2 * PAGE_SIZE
_PRIVATE = int(MapFlag.PRIVATE)
_DENY = _PRIVATE | int(MapFlag.DENYWRITE)
_FIXED = _DENY | int(MapFlag.FIXED)
_RDONLY = int(OpenFlag.RDONLY | OpenFlag.CLOEXEC)
_RW = int(Prot.READ | Prot.WRITE)


def start(k: Kernel, task: Task, exe: LoadedObject, interp: LoadedObject) -> None:
    """ld.so's work before ``main``, run by the new image after execve returns.

    ``exe`` and ``interp`` are what execve mapped (the auxiliary vector's
    AT_PHDR and AT_BASE).  A needed library that cannot be found ends the
    process with ``_exit(127)``, as ld.so does.

    Preconditions: ``task`` has just returned from the execve that mapped
    ``exe`` and ``interp``.
    """
    try:
        map_libraries(k, task, exe, interp)
    except OSError:
        fork_exec.sys_exit(k, task, 127)


def map_libraries(k: Kernel, task: Task, exe: LoadedObject, interp: LoadedObject) -> None:
    """Make ld.so's mappings for ``exe``'s needed libraries; ENOENT if one is missing."""
    mman.sys_mmap(k, task, 0, RTLD_MALLOC_SIZE, _RW, _PRIVATE | int(MapFlag.ANONYMOUS), -1, 0)
    cache = _map_cache(k, task)
    done = {posixpath.basename(interp.file.inode.name)}
    libs: list[tuple[int, ElfImage]] = []
    queue = list(exe.image.needed)
    while queue:
        name = queue.pop(0)
        if name in done:
            continue
        done.add(name)
        bias, image = map_library(k, task, find_library(k, name))
        libs.append((bias, image))
        queue += image.needed
    for bias, image in [*reversed(libs), (exe.bias, exe.image), (interp.bias, interp.image)]:
        protect_relro(k, task, bias, image)
    if cache is not None:
        mman.sys_munmap(k, task, *cache)


def _map_cache(k: Kernel, task: Task) -> tuple[int, int] | None:
    """ld.so's private read-only mapping of /etc/ld.so.cache, if the machine has one."""
    try:
        fd = files.sys_open(k, task, LD_SO_CACHE, _RDONLY, 0)
    except OSError:
        return None
    try:
        size = k.fd_file(task, fd).inode.size
        if size == 0:
            return None
        return mman.sys_mmap(k, task, 0, size, int(Prot.READ), _PRIVATE, fd, 0), size
    finally:
        files.sys_close(k, task, fd)


def find_library(k: Kernel, name: str) -> str:
    """The path of library ``name`` (a path if it has a slash); ENOENT if none."""
    if "/" in name:
        return name
    for d in SEARCH_DIRS:
        path = f"{d}/{name}"
        try:
            k.fs.lookup(path)
        except OSError:
            continue
        return path
    raise syscall_error(errno.ENOENT)


def map_library(k: Kernel, task: Task, path: str) -> tuple[int, ElfImage]:
    """_dl_map_object_from_fd: open, read the headers, map the segments, close."""
    fd = files.sys_open(k, task, path, _RDONLY, 0)
    try:
        image = read_elf(k.pagecache, k.fd_file(task, fd).inode)
        return map_segments(k, task, fd, image), image
    finally:
        files.sys_close(k, task, fd)


def map_segments(k: Kernel, task: Task, fd: int, image: ElfImage) -> int:
    """_dl_map_segments: reserve the span, then map each segment over it; the bias."""
    segs = image.segments
    first = page_down(segs[0].vaddr)
    addr = mman.sys_mmap(
        k, task, 0, image.total_size, int(segs[0].prot), _DENY, fd, page_down(segs[0].offset)
    )
    bias = addr - first
    first_end = page_align(segs[0].vaddr + segs[0].filesz)
    last_start = page_down(segs[-1].vaddr)
    if last_start > first_end:
        mman.sys_mprotect(k, task, bias + first_end, last_start - first_end, int(Prot.NONE))
    for i, seg in enumerate(segs):
        start = page_down(seg.vaddr)
        if i:
            length = page_align(seg.vaddr + seg.filesz) - start
            offset = page_down(seg.offset)
            mman.sys_mmap(k, task, bias + start, length, int(seg.prot), _FIXED, fd, offset)
        _zero_bss(k, task, bias, seg)
    return bias


def _zero_bss(k: Kernel, task: Task, bias: int, seg: Segment) -> None:
    """The .bss part of a segment: zero the file page's tail, map whole pages anonymous."""
    zero = bias + seg.vaddr + seg.filesz
    zero_end = bias + seg.vaddr + seg.memsz
    zero_page = min(page_align(zero), zero_end)
    if zero_page > zero and seg.prot & Prot.WRITE:
        task.mm.store(zero, bytes(zero_page - zero))
    if zero_end > zero_page:
        flags = _PRIVATE | int(MapFlag.ANONYMOUS | MapFlag.FIXED)
        mman.sys_mmap(k, task, zero_page, zero_end - zero_page, int(seg.prot), flags, -1, 0)


def protect_relro(k: Kernel, task: Task, bias: int, image: ElfImage) -> None:
    """_dl_protect_relro: the pages wholly inside PT_GNU_RELRO become read-only."""
    if image.relro is None:
        return
    vaddr, size = image.relro
    start = page_down(bias + vaddr)
    end = page_down(bias + vaddr + size)
    if end > start:
        mman.sys_mprotect(k, task, start, end - start, int(Prot.READ))
