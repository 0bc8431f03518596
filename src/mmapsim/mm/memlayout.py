r"""Where things lie in a process's virtual memory: Linux x86-64 with ASLR off.

0x7ffffffff000  +---------------------------+ TASK_SIZE (47-bit user space)
                | [stack]       grows down  |
                +- - - - - - - - - - - - - -+ stack guard gap (1 MiB)
                |   ... room for the stack  |
0x7ffff7fff000  +---------------------------+ mmap_base = TASK_SIZE - 128 MiB
                | mapping area  grows down  | mmap(NULL, ...) lands here,
                |          v                | highest free gap first
                |                           |
                |          ^                |
                | [heap] (brk)    grows up  |
                +---------------------------+
                | .data .bss      rw-p      |
                | .rodata         r--p      | the program file, mapped
                | .text           r-xp      | privately (copy-on-write)
0x555555554000  +---------------------------+ PIE base (2/3 of TASK_SIZE)
                |          unmapped         |
0x000000010000  +---------------------------+ mmap_min_addr
"""

from __future__ import annotations

from typing import Final

from mmapsim.constants import PAGE_SIZE

#: The top of user space on x86-64 with 4-level paging (TASK_SIZE_MAX).
TASK_SIZE: Final = 0x7FFFFFFFF000
#: No mapping may start below this (``/proc/sys/vm/mmap_min_addr``).
MMAP_MIN_ADDR: Final = 0x10000
#: Linux's ``stack_guard_gap``: 256 pages kept free below a stack.
STACK_GUARD_GAP: Final = 256 * PAGE_SIZE
#: RLIMIT_STACK's default soft limit.
STACK_RLIMIT: Final = 8 * 1024 * 1024
#: ``mmap_base()`` with no randomisation: the gap below the stack is at least 128 MiB.
MMAP_BASE: Final = TASK_SIZE - 128 * 1024 * 1024
#: The bottom-up fallback search starts here (``TASK_UNMAPPED_BASE``).
MMAP_LEGACY_BASE: Final = (TASK_SIZE // 3) & ~(PAGE_SIZE - 1)
#: Where a position-independent executable is loaded (``ELF_ET_DYN_BASE``).
PIE_BASE: Final = (TASK_SIZE // 3 * 2) & ~(PAGE_SIZE - 1)
#: The top of the stack (``STACK_TOP``).
STACK_TOP: Final = TASK_SIZE


def page_align(n: int) -> int:
    """Round ``n`` up to a whole number of pages."""
    return (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def page_down(n: int) -> int:
    """Round ``n`` down to a page boundary."""
    return n & ~(PAGE_SIZE - 1)
