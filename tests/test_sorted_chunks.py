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
    pos = chunks.find(old)
    assert pos is not None
    if name == "delete":
        chunks.delete(pos)
        del model[old]
        return
    low = keys[i - 1] + 1 if i else 0  # a key between the neighbours keeps the order
    new = low + (key % (old - low + 1))
    chunks.set_key(pos, new)
    model[new] = model.pop(old)


def _check_queries(chunks: SortedChunks[str], model: dict[int, str]) -> None:
    keys = sorted(model)
    chunks.check()
    assert len(chunks) == len(keys)
    assert chunks.items() == [(k, model[k]) for k in keys]
    assert chunks.values() == [model[k] for k in keys]
    walked, pos = [], chunks.first()
    while pos is not None:
        walked.append(chunks.key(pos))
        pos = chunks.after(pos)
    assert walked == keys
    walked, pos = [], chunks.last()
    while pos is not None:
        walked.append(chunks.key(pos))
        pos = chunks.before(pos)
    assert walked == keys[::-1]
    for probe in range(-1, 203, 7):
        i = bisect_right(keys, probe) - 1
        pos = chunks.floor(probe)
        assert (None if pos is None else chunks.key(pos)) == (keys[i] if i >= 0 else None)
        found = chunks.find(probe)
        assert (found is not None) == (probe in model)
        if pos is not None:
            below = [model[k] for k in keys[i:] if k < probe + 20]
            assert chunks.values_below(pos, probe + 20) == below


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
    """Inserting a key that is present is a bug in the kernel, not a second entry."""
    chunks: SortedChunks[int] = SortedChunks(2)
    for key in range(10):
        chunks.insert(key, key)
    with pytest.raises(KernelPanic):
        chunks.insert(5, 5)
    chunks.check()


def test_a_chunk_joining_a_full_neighbour_splits_again() -> None:
    """A chunk that falls below half the load joins its neighbour; if that makes
    more than twice the load, the result is cut in two again."""
    chunks: SortedChunks[int] = SortedChunks(4)
    for key in range(12):  # [0..3] and [4..8] after the first split, then [4..11]
        chunks.insert(key, key)
    for key in (0, 1, 2):  # [3] joins [4..11]: nine keys, over 2 * 4
        pos = chunks.find(key)
        assert pos is not None
        chunks.delete(pos)
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
        pos = chunks.find(key)
        assert pos is not None
        chunks.delete(pos)
    chunks.check()
    assert chunks.values() == list(range(1, 3000, 2))
