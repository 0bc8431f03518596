"""Address-space layout randomisation, as Linux x86-64 draws it at execve.

With randomisation off (``setarch -R``, ``randomize_va_space=0``) every value
is Linux's fixed one: the PIE base ``ELF_ET_DYN_BASE``, ``mmap_base`` 128 MiB
below the top of user space, the stack top at ``STACK_TOP`` and the break
right after the program's ``.bss``.  With it on (``randomize_va_space=2``) the
values are drawn as Linux draws them, from a seeded generator so that a run
can be repeated:

- ``arch_mmap_rnd``: 28 random bits of pages, added to the PIE base and
  subtracted from ``mmap_base`` (whose gap below the stack then also leaves
  room for the stack's own randomisation, ``stack_maxrandom_size``);
- ``randomize_stack_top``: up to ``STACK_RND_MASK`` (22 bits) pages below
  ``STACK_TOP``, then ``arch_align_stack``'s up to 8 KiB;
- ``arch_randomize_brk``: the break one page after ``.bss`` and then up to
  32 MiB higher (``randomize_page``).
"""

from __future__ import annotations

import random

from mmapsim.constants import PAGE_SHIFT, PAGE_SIZE
from mmapsim.mm.memlayout import (
    MMAP_BASE,
    PIE_BASE,
    STACK_GUARD_GAP,
    STACK_RLIMIT,
    STACK_TOP,
    TASK_SIZE,
    page_align,
)

MMAP_RND_BITS = 28
STACK_RND_MASK = 0x3FFFFF
BRK_RND_RANGE = 0x02000000
_GAP_MIN = 128 * 1024 * 1024
_GAP_MAX = TASK_SIZE // 6 * 5


class Randomizer:
    """The random choices of one execve; ``rng`` None means randomisation is off."""

    __slots__ = ("_mmap_rnd", "rng")

    def __init__(self, rng: random.Random | None) -> None:
        self.rng = rng
        self._mmap_rnd = 0 if rng is None else rng.getrandbits(MMAP_RND_BITS) << PAGE_SHIFT

    @property
    def enabled(self) -> bool:
        return self.rng is not None

    def mmap_base(self) -> int:
        """mmap_base(): below the stack by its rlimit and padding, minus the random offset."""
        if self.rng is None:
            return MMAP_BASE
        gap = STACK_RLIMIT + STACK_GUARD_GAP + (STACK_RND_MASK << PAGE_SHIFT)
        gap = min(max(gap, _GAP_MIN), _GAP_MAX)
        return page_align(TASK_SIZE - gap - self._mmap_rnd)

    def pie_base(self) -> int:
        """ELF_ET_DYN_BASE, plus arch_mmap_rnd() when randomising."""
        return PIE_BASE + self._mmap_rnd

    def stack_top(self) -> int:
        """randomize_stack_top(STACK_TOP), then arch_align_stack and PAGE_ALIGN."""
        if self.rng is None:
            return STACK_TOP
        top = STACK_TOP - ((self.rng.getrandbits(64) & STACK_RND_MASK) << PAGE_SHIFT)
        top -= self.rng.randrange(8192)
        return page_align(top & ~0xF)

    def brk_start(self, brk: int, loader_run_directly: bool) -> int:
        """Where the break starts, given the page-aligned end of the program's data."""
        if self.rng is None:
            return brk
        brk = PIE_BASE if loader_run_directly else brk + PAGE_SIZE
        pages = BRK_RND_RANGE >> PAGE_SHIFT
        return page_align(brk) + (self.rng.randrange(pages) << PAGE_SHIFT)

    def random_bytes(self) -> bytes:
        """The 16 bytes behind AT_RANDOM."""
        if self.rng is None:
            return bytes(range(16))
        return self.rng.randbytes(16)
