"""Sorted integer keys with values, in chunks: the VMA set's and the gap index's tree.

Linux keeps an address space's VMAs in a maple tree (a B-tree of ranges) and
finds free room with the gaps it records in each node.  What the simulator
needs of it is a sorted sequence with cheap search, neighbours, insert and
delete at any size.  One sorted Python list gives the search (``bisect``) but
every insert or delete near its front moves the whole list (about 0.5 MB at
65,000 VMAs); this is a two-level B-tree instead, in the shape
``sortedcontainers`` made familiar::

    _firsts   [ 0x1000      , 0x7f00..000 , 0x7ffd..000 ]   the first key of each chunk
    _keys     [[k0 .. k511] , [k512 ..]   , [..]        ]   sorted chunks of keys
    _values   [[v0 .. v511] , [v512 ..]   , [..]        ]   the value of each key

A chunk holds between ``load // 2`` and ``2 * load`` keys (fewer only when it is
the only one), so a search is two ``bisect`` calls and an insert or delete
moves at most ``2 * load`` entries, plus the short list of chunks when one
splits or joins its neighbour.  A *position* ``(chunk, index)`` names one
entry; it is valid until the next insert or delete.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import chain, pairwise
from typing import Generic, TypeVar

from mmapsim.errors import KernelPanic

V = TypeVar("V")

#: A place in the sequence: (chunk number, index inside the chunk).
Pos = tuple[int, int]

#: Chunk size: inserts move at most 2*LOAD pointers; 65,000 keys make ~100 chunks.
LOAD = 512


class SortedChunks(Generic[V]):
    """Distinct integer keys in ascending order, each with a value.

    Invariant: no chunk is empty; ``_firsts[c] == _keys[c][0]``; keys strictly
    increase through the chunks in order; ``_values`` has the shape of
    ``_keys``; ``_len`` is the number of keys.
    """

    __slots__ = ("_firsts", "_keys", "_len", "_load", "_values")

    def __init__(self, load: int | None = None) -> None:
        load = LOAD if load is None else load  # read at run time: tests shrink LOAD
        if load < 2:
            raise KernelPanic("SortedChunks", f"load {load} is too small")
        self._load = load
        self._firsts: list[int] = []
        self._keys: list[list[int]] = []
        self._values: list[list[V]] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def values(self) -> list[V]:
        """Every value in key order (a new list: the caller may change the set meanwhile)."""
        return list(chain.from_iterable(self._values))

    def items(self) -> list[tuple[int, V]]:
        """Every (key, value) in key order."""
        return list(zip(chain.from_iterable(self._keys), self.values(), strict=True))

    # -- positions ------------------------------------------------------------

    def key(self, pos: Pos) -> int:
        return self._keys[pos[0]][pos[1]]

    def value(self, pos: Pos) -> V:
        return self._values[pos[0]][pos[1]]

    def first(self) -> Pos | None:
        return (0, 0) if self._len else None

    def last(self) -> Pos | None:
        if not self._len:
            return None
        return len(self._keys) - 1, len(self._keys[-1]) - 1

    def floor(self, key: int) -> Pos | None:
        """The position of the greatest key ``<= key``, or None."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return None
        # _firsts[c] <= key, so the chunk has at least one key <= key
        return c, bisect_right(self._keys[c], key) - 1

    def find(self, key: int) -> Pos | None:
        """The position of ``key`` itself, or None."""
        pos = self.floor(key)
        if pos is None or self._keys[pos[0]][pos[1]] != key:
            return None
        return pos

    def after(self, pos: Pos) -> Pos | None:
        """The next position, or None at the end."""
        c, i = pos
        if i + 1 < len(self._keys[c]):
            return c, i + 1
        return (c + 1, 0) if c + 1 < len(self._keys) else None

    def before(self, pos: Pos) -> Pos | None:
        """The previous position, or None at the start."""
        c, i = pos
        if i:
            return c, i - 1
        return (c - 1, len(self._keys[c - 1]) - 1) if c else None

    def values_below(self, pos: Pos, end: int) -> list[V]:
        """The values from ``pos`` on whose keys are below ``end``."""
        c, i = pos
        out: list[V] = []
        while c < len(self._keys):
            keys = self._keys[c]
            j = bisect_left(keys, end, i)
            out += self._values[c][i:j]
            if j < len(keys):
                break
            c, i = c + 1, 0
        return out

    # -- changes --------------------------------------------------------------

    def insert(self, key: int, value: V) -> None:
        """Add ``key`` (not yet present) with ``value``."""
        if not self._keys:
            self._firsts.append(key)
            self._keys.append([key])
            self._values.append([value])
            self._len = 1
            return
        c = max(0, bisect_right(self._firsts, key) - 1)
        keys = self._keys[c]
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            raise KernelPanic("SortedChunks.insert", f"key {key:#x} is already present")
        keys.insert(i, key)
        self._values[c].insert(i, value)
        if i == 0:
            self._firsts[c] = key
        self._len += 1
        if len(keys) > 2 * self._load:
            self._split(c)

    def delete(self, pos: Pos) -> None:
        """Remove the entry at ``pos``."""
        c, i = pos
        keys = self._keys[c]
        del keys[i]
        del self._values[c][i]
        self._len -= 1
        if len(keys) >= self._load // 2 or (keys and len(self._keys) == 1):
            if i == 0:
                self._firsts[c] = keys[0]
            return
        self._join(c)

    def set_key(self, pos: Pos, key: int) -> None:
        """Change the key at ``pos``.

        Preconditions: ``key`` stays between the keys before and after ``pos``.
        """
        c, i = pos
        self._keys[c][i] = key
        if i == 0:
            self._firsts[c] = key

    def _split(self, c: int) -> None:
        """Cut chunk ``c``, grown past ``2 * load``, in two halves."""
        keys, values = self._keys[c], self._values[c]
        half = len(keys) // 2
        self._keys.insert(c + 1, keys[half:])
        self._values.insert(c + 1, values[half:])
        self._firsts.insert(c + 1, keys[half])
        del keys[half:]
        del values[half:]

    def _join(self, c: int) -> None:
        """Chunk ``c`` fell below ``load // 2``: join it to a neighbour (or drop it)."""
        if len(self._keys) == 1:  # the only chunk, now empty
            self._firsts.clear()
            self._keys.clear()
            self._values.clear()
            return
        low = c - 1 if c else 0  # join chunk low+1 onto the end of chunk low
        self._keys[low] += self._keys[low + 1]
        self._values[low] += self._values[low + 1]
        del self._keys[low + 1], self._values[low + 1], self._firsts[low + 1]
        self._firsts[low] = self._keys[low][0]
        if len(self._keys[low]) > 2 * self._load:
            self._split(low)

    # -- checks ---------------------------------------------------------------

    def check(self) -> None:
        """Recount the invariant from scratch; KernelPanic if it does not hold."""
        keys = list(chain.from_iterable(self._keys))
        if self._len != len(keys) or len(self.values()) != len(keys):
            raise KernelPanic("SortedChunks.check", "counts differ from a recount")
        if any(a >= b for a, b in pairwise(keys)):
            raise KernelPanic("SortedChunks.check", "keys out of order")
        if any(not chunk for chunk in self._keys) or len(self._keys) != len(self._values):
            raise KernelPanic("SortedChunks.check", "an empty chunk")
        if any(len(k) != len(v) for k, v in zip(self._keys, self._values, strict=True)):
            raise KernelPanic("SortedChunks.check", "keys and values differ in shape")
        if self._firsts != [chunk[0] for chunk in self._keys]:
            raise KernelPanic("SortedChunks.check", "first keys differ from the chunks")
        if any(len(chunk) > 2 * self._load for chunk in self._keys):
            raise KernelPanic("SortedChunks.check", "a chunk over twice the load")
