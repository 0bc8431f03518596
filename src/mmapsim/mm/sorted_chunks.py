"""Sorted integer keys with values, in chunks: the VMA set's and the gap index's tree.

Linux keeps an address space's VMAs in a maple tree (a B-tree of ranges) and
finds free room with the gaps it records in each node.  What the simulator
needs of it is a sorted sequence with cheap search, neighbours, insert and
delete at any size.  One sorted Python list gives the search (``bisect``) but
every insert or delete near its front moves the whole list (8 bytes a VMA:
half a megabyte at 65,000 VMAs); this is a two-level B-tree instead, in the shape
``sortedcontainers`` made familiar::

    _firsts   [ 0x1000      , 0x7f00..000 , 0x7ffd..000 ]   the first key of each chunk
    _keys     [[k0 .. k511] , [k512 ..]   , [..]        ]   sorted chunks of keys
    _values   [[v0 .. v511] , [v512 ..]   , [..]        ]   the value of each key

A chunk holds between ``load // 2`` and ``2 * load`` keys (fewer only when it is
the only one), so a search is two ``bisect`` calls and an insert or delete
moves at most ``2 * load`` entries, plus the short list of chunks when one
splits or joins its neighbour.  Lookups answer with values (a VMA, a gap's
start), never with positions, so nothing outside depends on the chunks.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import chain, pairwise
from typing import Generic, TypeVar

from mmapsim.errors import KernelPanic

V = TypeVar("V")

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

    # -- lookup -------------------------------------------------------------

    def floor_value(self, key: int) -> V | None:
        """The value of the greatest key ``<= key``, or None."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return None
        # _firsts[c] <= key, so chunk c has a key <= key: the index is at least 0
        return self._values[c][bisect_right(self._keys[c], key) - 1]

    def floor_and_next(self, key: int) -> tuple[V | None, V | None]:
        """The values of the greatest key ``<= key`` and of the key after it."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return None, (self._values[0][0] if self._values else None)
        values = self._values[c]
        i = bisect_right(self._keys[c], key)
        if i < len(values):
            return values[i - 1], values[i]
        nxt = self._values[c + 1][0] if c + 1 < len(self._values) else None
        return values[i - 1], nxt

    def around(self, key: int) -> tuple[V | None, V | None, V | None]:
        """The values before ``key``, of ``key`` (None if absent), and after it."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return None, None, (self._values[0][0] if self._values else None)
        keys, values = self._keys[c], self._values[c]
        i = bisect_right(keys, key) - 1
        after: V | None
        if i + 1 < len(values):
            after = values[i + 1]
        else:
            after = self._values[c + 1][0] if c + 1 < len(self._values) else None
        if keys[i] != key:
            return values[i], None, after
        before = values[i - 1] if i else (self._values[c - 1][-1] if c else None)
        return before, values[i], after

    def values_between(self, low: int, high: int) -> list[V]:
        """The values of the keys in ``[low, high)``, in key order."""
        c = max(0, bisect_right(self._firsts, low) - 1)
        out: list[V] = []
        while c < len(self._keys):
            keys = self._keys[c]
            i, j = bisect_left(keys, low), bisect_left(keys, high)
            out += self._values[c][i:j]
            if j < len(keys):
                break
            c += 1
        return out

    def descending(self, key: int) -> Iterator[tuple[int, V]]:
        """(key, value) from the greatest key ``<= key`` down to the least."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return
        i = bisect_right(self._keys[c], key) - 1
        while True:
            keys, values = self._keys[c], self._values[c]
            for j in range(i, -1, -1):
                yield keys[j], values[j]
            if not c:
                return
            c -= 1
            i = len(self._keys[c]) - 1

    # -- changes --------------------------------------------------------------

    def insert(self, key: int, value: V) -> None:
        """Add ``key`` (not yet present) with ``value``."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:  # below every key, or none yet
            if not self._keys:
                self._firsts.append(key)
                self._keys.append([key])
                self._values.append([value])
                self._len = 1
                return
            c = 0
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

    def remove(self, key: int) -> V:
        """Take ``key`` out; returns its value (KernelPanic if it is absent)."""
        c = bisect_right(self._firsts, key) - 1
        keys = self._keys[c] if c >= 0 else []
        i = bisect_right(keys, key) - 1
        if i < 0 or keys[i] != key:
            raise KernelPanic("SortedChunks.remove", f"key {key:#x} is not present")
        values = self._values[c]
        del keys[i]
        value = values.pop(i)
        self._len -= 1
        if len(keys) >= self._load // 2 or (keys and len(self._keys) == 1):
            if i == 0:
                self._firsts[c] = keys[0]
        elif len(self._keys) > 1:
            self._join(c)
        else:  # the last key of the only chunk
            self._firsts.clear()
            self._keys.clear()
            self._values.clear()
        return value

    def replace_key(self, key: int, new: int) -> None:
        """Give the entry of ``key`` the key ``new``.

        Preconditions: ``new`` stays between the keys before and after ``key``.
        """
        c, i = self._index(key, "SortedChunks.replace_key")
        self._keys[c][i] = new
        if i == 0:
            self._firsts[c] = new

    def _index(self, key: int, where: str) -> tuple[int, int]:
        """Where ``key`` is: (chunk, index in the chunk); KernelPanic if absent."""
        c = bisect_right(self._firsts, key) - 1
        if c >= 0:
            keys = self._keys[c]
            i = bisect_right(keys, key) - 1
            if keys[i] == key:
                return c, i
        raise KernelPanic(where, f"key {key:#x} is not present")

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
        """Chunk ``c`` fell below ``load // 2``: join it to a neighbour.

        Preconditions: there is more than one chunk.
        """
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
