"""Crash states: the disks a power failure can leave at one moment, each content once.

At a *crash point* the disk holds its image (``base``) and the page cache holds
dirty pages.  A power failure there leaves ``base`` plus any subset of those
pages: each page is written whole or not at all (page-atomic, the default), or,
with ``torn``, each 512-byte sector of it independently (a page write torn by
the power failure, as a disk with 512-byte atomic sectors can leave it).  A
piece that holds the same bytes as the disk changes nothing and is left out, so
``k`` pieces give ``2**k`` distinct disks at one point; across points the same
disk is counted once, by content (:meth:`DiskImage.key`).

Subsets explode, so :func:`plan` keeps a budget: up to ``budget`` distinct
states are explored.  When there are more, a sample of ``budget`` of them is
drawn with a seeded random generator (always keeping, at each point, the state
with nothing written, the state with everything written, and the states one
piece away from them, where most bugs show), and the plan says so.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from mmapsim.constants import PAGE_SIZE
from mmapsim.fs.image import DirtyPage, DiskImage

SECTOR_SIZE = 512
#: Subsets of a point listed one by one (and hashed) at most: beyond, they are sampled.
ENUMERATION_LIMIT = 1 << 14


@dataclass(frozen=True, slots=True)
class Piece:
    """A part of a dirty page that a crash may or may not carry to the disk."""

    path: str
    pgoff: int
    sector: int | None  # None: the whole page (page-atomic)
    data: bytes

    @property
    def offset(self) -> int:
        """Where the piece starts in its file."""
        return self.pgoff * PAGE_SIZE + (self.sector or 0) * SECTOR_SIZE

    def describe(self) -> str:
        """``/tmp/f page 1`` or ``/tmp/f page 1 sector 3``."""
        where = f"{self.path} page {self.pgoff}"
        return where if self.sector is None else f"{where} sector {self.sector}"


@dataclass(frozen=True, slots=True)
class CrashPoint:
    """A moment of the run: where it is (``line``, ``label``), the disk and the dirty pieces."""

    index: int
    line: int | None
    label: str
    base: DiskImage
    pieces: tuple[Piece, ...]

    def image(self, written: Sequence[int]) -> DiskImage:
        """The disk after a crash here in which the pieces ``written`` reached it."""
        by_path: dict[str, list[Piece]] = {}
        for i in written:
            by_path.setdefault(self.pieces[i].path, []).append(self.pieces[i])
        files = dict(self.base.files)
        for path, pieces in by_path.items():
            files[path] = files[path].with_pieces((p.offset, p.data) for p in pieces)
        return DiskImage(files)


@dataclass(frozen=True, slots=True)
class CrashState:
    """One distinct disk: the first point that leaves it, and which pieces reached it."""

    point: CrashPoint
    written: tuple[int, ...]
    key: bytes

    @property
    def reached(self) -> list[Piece]:
        """The dirty pieces that reached the disk."""
        return [self.point.pieces[i] for i in self.written]

    @property
    def missed(self) -> list[Piece]:
        """The dirty pieces that did not."""
        chosen = set(self.written)
        return [p for i, p in enumerate(self.point.pieces) if i not in chosen]

    def image(self) -> DiskImage:
        """The disk this state is."""
        return self.point.image(self.written)


@dataclass
class Plan:
    """The states to explore, and how they were chosen."""

    states: list[CrashState] = field(default_factory=list)
    distinct: int | None = None  # how many distinct states there are (None: too many to count)
    at_least: int = 0  # distinct states seen while sampling
    sampled: bool = False
    seed: int = 0
    budget: int = 0
    candidates: int = 0  # crash states before deduplication: the sum of 2**k over the points


def pieces_of(base: DiskImage, dirty: Sequence[DirtyPage], *, torn: bool) -> tuple[Piece, ...]:
    """The parts of the dirty pages that differ from the disk: pages, or sectors if ``torn``."""
    found = []
    for page in dirty:
        on_disk = base.files[page.path].page(page.pgoff)
        if not torn:
            if page.data != on_disk:
                found.append(Piece(page.path, page.pgoff, None, page.data))
            continue
        for sector in range(PAGE_SIZE // SECTOR_SIZE):
            cut = slice(sector * SECTOR_SIZE, (sector + 1) * SECTOR_SIZE)
            if page.data[cut] != on_disk[cut]:
                found.append(Piece(page.path, page.pgoff, sector, page.data[cut]))
    return tuple(found)


def point_at(
    index: int,
    line: int | None,
    label: str,
    base: DiskImage,
    dirty: Sequence[DirtyPage],
    *,
    torn: bool = False,
) -> CrashPoint:
    """A crash point over ``base`` with the pieces of ``dirty``."""
    return CrashPoint(index, line, label, base, pieces_of(base, dirty, torn=torn))


def subsets(n: int) -> Iterator[tuple[int, ...]]:
    """Every subset of ``range(n)``, smallest first (so a failure is first seen minimal)."""
    for size in range(n + 1):
        yield from itertools.combinations(range(n), size)


def plan(points: Sequence[CrashPoint], *, budget: int, seed: int = 0) -> Plan:
    """The distinct crash states of ``points``, within ``budget`` (see the module)."""
    if budget < 1:
        raise ValueError("the budget is at least one state")
    rng = random.Random(seed)
    total = sum(2 ** len(p.pieces) for p in points)
    if total <= ENUMERATION_LIMIT:
        every = _distinct((p, w) for p in points for w in subsets(len(p.pieces)))
        result = Plan(distinct=len(every), at_least=len(every), seed=seed, budget=budget)
        result.candidates = total
        result.sampled = len(every) > budget
        result.states = _choose(every, budget, rng) if result.sampled else every
        return result
    seen = _distinct(_samples(points, budget, rng), limit=budget)
    return Plan(seen, None, len(seen), True, seed, budget, total)


def _rank(point: CrashPoint, written: tuple[int, ...]) -> int:
    """0 for nothing or everything written, 1 for one piece away from those, else 2."""
    n = len(point.pieces)
    if len(written) in (0, n):
        return 0
    return 1 if len(written) in (1, n - 1) else 2


def _distinct(
    candidates: Iterator[tuple[CrashPoint, tuple[int, ...]]], limit: int | None = None
) -> list[CrashState]:
    """The candidates whose disk was not seen before, in order (at most ``limit``)."""
    seen: set[bytes] = set()
    found = []
    for point, written in candidates:
        key = point.image(written).key()
        if key not in seen:
            seen.add(key)
            found.append(CrashState(point, written, key))
            if limit is not None and len(found) >= limit:
                break
    return found


def _choose(every: list[CrashState], budget: int, rng: random.Random) -> list[CrashState]:
    """``budget`` of ``every``: the edge states first, the rest drawn at random; in order."""
    ranked = sorted(
        range(len(every)), key=lambda i: (_rank(every[i].point, every[i].written), rng.random())
    )
    return [every[i] for i in sorted(ranked[:budget])]


def _samples(
    points: Sequence[CrashPoint], budget: int, rng: random.Random
) -> Iterator[tuple[CrashPoint, tuple[int, ...]]]:
    """Too many subsets to list: each point's edges, nearest first, then random subsets."""
    for point in points:
        n = len(point.pieces)
        yield point, ()
        yield point, tuple(range(n))
    for point in points:
        n = len(point.pieces)
        for i in range(n):
            yield point, (i,)
            yield point, tuple(j for j in range(n) if j != i)
    live = [p for p in points if p.pieces]
    for _ in range(budget * 4):
        point = rng.choice(live)
        yield point, tuple(i for i in range(len(point.pieces)) if rng.random() < 0.5)
