"""The sorted chunks under the VMA set, against a plain sorted dict.

Random inserts, deletes and key changes with small chunks (so that chunks
split and join all the time); after each, every query answers as a sorted
list of the same keys would, and the structure's invariant holds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmapsim.errors import KernelPanic
from mmapsim.mm.sorted_chunks import SortedChunks

#: (operation, key); keys come from a small range so they collide.
Op = tuple[str, int]
#: Keys inserted first, in any order, so that there are several chunks to split and join.
prefill_strategy = st.lists(st.integers(0, 200), min_size=5, max_size=120)
ops_strategy = st.lists(
    st.tuples(st.sampled_from(["insert", "delete", "delete", "set_key"]), st.integers(0, 200)),
    min_size=5,
    max_size=200,
)


def _apply(chunks: SortedChunks[str], model: dict[int, str], op: Op) -> None:
    """Do ``op`` to both; a delete or key change picks an existing key near ``key``."""
    name, key = op
    keys = sorted(model)
    if name == "insert":
        if key not in model:
            chunks.insert(key, f"v{key}")
            model[key] = f"v{key}"
        return
    if not keys:
        return
    i = min(bisect_left(keys, key), len(keys) - 1)
    old = keys[i]
    if name == "delete":
        assert chunks.remove(old) == model.pop(old)
        return
    low = keys[i - 1] + 1 if i else 0  # a key between the neighbours keeps the order
    new = low + (key % (old - low + 1))
    chunks.replace_key(old, new)
    model[new] = model.pop(old)


def _check_queries(chunks: SortedChunks[str], model: dict[int, str]) -> None:
    keys = sorted(model)
    values = [model[k] for k in keys]
    chunks.check()
    assert len(chunks) == len(keys)
    assert chunks.items() == list(zip(keys, values, strict=True))
    assert chunks.values() == values
    for probe in range(-1, 203, 5):
        i = bisect_right(keys, probe)  # keys[:i] are <= probe
        floor = values[i - 1] if i else None
        assert chunks.floor_value(probe) == floor
        assert chunks.floor_and_next(probe) == (floor, values[i] if i < len(keys) else None)
        if probe in model:
            at = model[probe]
            before = values[i - 2] if i > 1 else None
        else:
            at, before = None, floor
        assert chunks.around(probe) == (before, at, values[i] if i < len(keys) else None)
        high = probe + probe % 23
        expected = [v for k, v in zip(keys, values, strict=True) if probe <= k < high]
        assert chunks.values_between(probe, high) == expected
        assert list(chunks.descending(probe)) == [(k, model[k]) for k in reversed(keys[:i])]


@pytest.mark.parametrize("load", [2, 4, 8])
@settings(max_examples=max(150, settings().max_examples), deadline=None)
@given(prefill=prefill_strategy, ops=ops_strategy)
def test_sorted_chunks_answer_as_a_sorted_list(
    load: int, prefill: list[int], ops: list[Op]
) -> None:
    """After any inserts, deletes and key changes, every query matches a sorted list."""
    chunks: SortedChunks[str] = SortedChunks(load)
    model: dict[int, str] = {}
    for key in prefill:
        _apply(chunks, model, ("insert", key))
    _check_queries(chunks, model)
    for op in ops:
        _apply(chunks, model, op)
        _check_queries(chunks, model)


def test_a_key_is_inserted_once() -> None:
    """Inserting a key that is present, or removing one that is not, is a kernel bug."""
    chunks: SortedChunks[int] = SortedChunks(2)
    for key in range(10):
        chunks.insert(key, key)
    with pytest.raises(KernelPanic):
        chunks.insert(5, 5)
    with pytest.raises(KernelPanic):
        chunks.remove(10)
    chunks.check()


def test_a_chunk_joining_a_full_neighbour_splits_again() -> None:
    """A chunk that falls below half the load joins its neighbour; if that makes
    more than twice the load, the result is cut in two again."""
    chunks: SortedChunks[int] = SortedChunks(4)
    for key in range(12):  # [0..3] and [4..8] after the first split, then [4..11]
        chunks.insert(key, key)
    for key in (0, 1, 2):  # [3] joins [4..11]: nine keys, over 2 * 4
        chunks.remove(key)
    chunks.check()
    assert chunks.values() == list(range(3, 12))


def test_many_keys_make_bounded_chunks() -> None:
    """Ascending, descending and interleaved inserts keep chunks within twice the load."""
    chunks: SortedChunks[int] = SortedChunks(16)
    for key in [*range(0, 3000, 3), *range(2999, 0, -3), *range(1, 3000, 3)]:
        chunks.insert(key, key)
    chunks.check()
    assert chunks.values() == list(range(3000))
    for key in range(0, 3000, 2):
        assert chunks.remove(key) == key
    chunks.check()
    assert chunks.values() == list(range(1, 3000, 2))


def test_removing_from_nothing_is_a_kernel_bug() -> None:
    """An empty set has no key to remove, and says so as a kernel bug."""
    chunks: SortedChunks[int] = SortedChunks()
    with pytest.raises(KernelPanic):
        chunks.remove(0)
    chunks.insert(7, 7)
    with pytest.raises(KernelPanic):
        chunks.remove(3)
