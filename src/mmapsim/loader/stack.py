r"""The initial stack of a new program: Linux's setup_arg_pages and create_elf_tables.

::

    stack_top  +------------------------------+
               | NULL (8 bytes)               |  bprm->p starts here
               | execfn "/usr/bin/cat\0"      |  copy_strings: file name first,
               | envp strings                 |  then the environment,
               | argv strings                 |  then the arguments (arg_start)
               | "x86_64\0", 16 random bytes  |  AT_PLATFORM, AT_RANDOM
               | auxv pairs, AT_NULL          |
               | envp[] NULL, argv[] NULL     |
        sp ->  | argc                         |  16-byte aligned
               +------------------------------+ page of the lowest string
               |  128 KiB more (stack_expand) |
               +------------------------------+ [stack] vm_start

The ``[stack]`` VMA covers the pages that the strings reached plus the 128 KiB
that setup_arg_pages expands it by; it grows down further on demand.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from mmapsim.mm.address_space import AddressSpace
from mmapsim.mm.memlayout import page_down
from mmapsim.mm.vma import Vma, VmFlag

#: setup_arg_pages's ``stack_expand``.
STACK_EXPAND = 128 * 1024
#: VM_STACK_FLAGS on x86-64.
STACK_FLAGS = (
    VmFlag.READ
    | VmFlag.WRITE
    | VmFlag.MAYREAD
    | VmFlag.MAYWRITE
    | VmFlag.MAYEXEC
    | VmFlag.ACCOUNT
    | VmFlag.GROWSDOWN
)
PLATFORM = b"x86_64\0"
# The auxiliary vector's keys (include/uapi/linux/auxvec.h).
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS = 0, 3, 4, 5, 6, 7, 8
AT_ENTRY, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_CLKTCK = 9, 11, 12, 13, 14, 15, 17
AT_SECURE, AT_RANDOM, AT_EXECFN, AT_SYSINFO_EHDR = 23, 25, 31, 33


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    """What the auxiliary vector tells the program about itself."""

    phdr: int
    phnum: int
    entry: int
    interp_base: int
    vdso: int


def _strings(items: Sequence[str]) -> list[bytes]:
    return [s.encode() + b"\0" for s in items]


def setup_stack(
    mm: AddressSpace,
    stack_top: int,
    execfn: str,
    argv: Sequence[str],
    envp: Sequence[str],
    info: ProgramInfo,
    random_bytes: bytes,
) -> int:
    """Make the ``[stack]`` VMA and write the program's initial stack; returns sp."""
    fn, envs, args = _strings([execfn]), _strings(envp), _strings(argv)
    p = stack_top - 8 - sum(map(len, fn + envs + args))
    arg_start = p
    vma = Vma(page_down(p) - STACK_EXPAND, stack_top, STACK_FLAGS, 0, name="[stack]")
    vma.pgoff = vma.start >> 12
    mm.insert_vma(vma)
    mm.store(p, b"".join(args + envs + fn) + bytes(8))
    argv_ptrs = _offsets(arg_start, args)
    envp_ptrs = _offsets(arg_start + sum(map(len, args)), envs)
    execfn_va = stack_top - 8 - len(fn[0])
    p = (p & ~0xF) - len(PLATFORM)
    platform_va = p
    p -= 16
    random_va = p
    mm.store(platform_va, PLATFORM)
    mm.store(random_va, random_bytes[:16].ljust(16, b"\0"))
    auxv = _auxv(info, platform_va, random_va, execfn_va)
    words = [len(args), *argv_ptrs, 0, *envp_ptrs, 0, *auxv]
    sp = (p - 8 * len(words)) & ~0xF
    mm.store(sp, struct.pack(f"<{len(words)}Q", *words))
    return sp


def _offsets(start: int, strings: list[bytes]) -> list[int]:
    out = []
    for s in strings:
        out.append(start)
        start += len(s)
    return out


def _auxv(info: ProgramInfo, platform_va: int, random_va: int, execfn_va: int) -> list[int]:
    pairs = [
        (AT_SYSINFO_EHDR, info.vdso),
        (AT_PAGESZ, 4096),
        (AT_CLKTCK, 100),
        (AT_PHDR, info.phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, info.phnum),
        (AT_BASE, info.interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, info.entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_RANDOM, random_va),
        (AT_EXECFN, execfn_va),
        (AT_PLATFORM, platform_va),
        (AT_NULL, 0),
    ]
    return [x for pair in pairs for x in pair]
