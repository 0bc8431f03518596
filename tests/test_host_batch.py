"""HostProcess.batch: many loads and stores in one request, each decided and answered alone."""

from __future__ import annotations

import errno
import signal
import sys
from collections.abc import Iterator

import pytest

from mmapsim import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    PAGE_SIZE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    ProcessKilled,
)
from mmapsim.constants import MAP_GROWSDOWN
from mmapsim.host import HostMachine
from mmapsim.host.boundary import HostRefused
from mmapsim.host.limits import HostTimeout, Limits

pytestmark = [
    pytest.mark.hostonly,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux"),
]

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


@pytest.fixture
def m() -> Iterator[HostMachine]:
    with HostMachine() as machine:
        yield machine


def _worker_page(p: object) -> int:
    for line in p.maps().splitlines():  # type: ignore[attr-defined]
        if "libc" in line or "python" in line:
            return int(line.split("-", 1)[0], 16)
    raise AssertionError("no interpreter mapping in maps()")


def test_a_batch_answers_each_call_in_order(m):
    """Stores and loads of a batch run in order: a load sees the store before it."""
    p = m.spawn()
    a = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    calls = [("store", a + i * 8, bytes([i % 256]) * 8) for i in range(300)]
    calls += [("load", a + i * 8, 8) for i in range(300)]
    results = p.batch(calls)
    assert results[:300] == [None] * 300
    assert results[300:] == [bytes([i % 256]) * 8 for i in range(300)]
    assert p.load(a + 8 * 299, 8) == bytes([299 % 256]) * 8


def test_a_refused_call_of_a_batch_is_its_result_and_the_others_run(m):
    """A call over the worker's pages gets HostRefused; the calls around it still run."""
    p = m.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    w = _worker_page(p)
    results = p.batch([("store", a, b"one"), ("store", w, b"evil"), ("load", a, 3)])
    assert results[0] is None
    assert results[2] == b"one"
    assert isinstance(results[1], HostRefused)
    assert results[1].addr == w


def test_a_fault_in_a_batch_kills_the_process_at_that_call(m):
    """The calls before a fatal fault keep their results; those after it are not run."""
    p = m.spawn()
    a = p.mmap(0, 2 * PAGE_SIZE, RW, ANON)
    p.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_NONE)
    results = p.batch(
        [("store", a, b"x"), ("load", a, 1), ("load", a + PAGE_SIZE, 1), ("load", a, 1)]
    )
    assert results[:2] == [None, b"x"]
    killed = results[2]
    assert isinstance(killed, ProcessKilled)
    assert killed.signal == signal.SIGSEGV
    assert killed.addr == a + PAGE_SIZE
    assert isinstance(results[3], ProcessLookupError)
    assert results[3].errno == errno.ESRCH
    assert not p.alive
    assert [type(r) for r in p.batch([("load", a, 1)])] == [ProcessLookupError]


def test_a_load_in_a_hole_of_a_batch_faults_as_alone(m):
    """A call whose range meets a hole runs alone: the access faults there."""
    p = m.spawn()
    a = p.mmap(0, 2 * PAGE_SIZE, RW, ANON)
    p.munmap(a + PAGE_SIZE, PAGE_SIZE)
    results = p.batch([("store", a, b"y"), ("load", a + PAGE_SIZE - 1, 2)])
    assert results[0] is None
    assert isinstance(results[1], ProcessKilled)
    assert results[1].addr == a + PAGE_SIZE


def test_a_batch_grows_a_growsdown_mapping_as_single_calls_do(m):
    """A store just below a MAP_GROWSDOWN mapping grows it; the next call sees its pages."""
    p = m.spawn()
    top = p.mmap(0, 4 * PAGE_SIZE, RW, ANON | MAP_GROWSDOWN)
    below = top - PAGE_SIZE
    results = p.batch([("store", below, b"grown"), ("load", below, 5)])
    q = m.spawn()
    t2 = q.mmap(0, 4 * PAGE_SIZE, RW, ANON | MAP_GROWSDOWN)
    q.store(t2 - PAGE_SIZE, b"grown")
    assert results == [None, q.load(t2 - PAGE_SIZE, 5)]


def test_a_batch_keeps_the_limits_of_one_call():
    """max_io_bytes holds per call; max_call_seconds holds for each answer."""
    with HostMachine(max_io_bytes=1 << 16) as m:
        p = m.spawn()
        a = p.mmap(0, 1 << 24, RW, ANON)
        results = p.batch([("load", a, 1 << 17), ("load", a, 8)])
        assert isinstance(results[0], HostRefused)
        assert results[1] == bytes(8)
    with HostMachine() as m:
        p = m.spawn()
        a = p.mmap(0, 16 << 20, RW, ANON)
        m._state.limits = Limits(max_call_seconds=1e-4)
        calls = [("store", a, bytes(8))] * 3 + [("store", a, bytes(16 << 20)), ("load", a, 8)]
        results = p.batch(calls)
        assert any(isinstance(r, HostTimeout) for r in results)
        assert isinstance(results[-1], ProcessLookupError)
        assert not p.alive


def test_a_malformed_batch_runs_nothing(m):
    """A call of the wrong shape or type raises before any call of the batch runs."""
    p = m.spawn()
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    with pytest.raises(TypeError):
        p.batch([("store", a, b"no"), ("load", a, 1, 2)])
    with pytest.raises(TypeError):
        p.batch([("store", a, b"no"), ("mprotect", a, 1)])
    with pytest.raises(OverflowError):
        p.batch([("store", a, b"no"), ("load", -1, 1)])
    assert p.load(a, 2) == bytes(2)


def test_the_calls_after_a_fatal_one_are_not_run_even_alone(m):
    """A call that would run alone, after a fatal fault in the calls before it, is not run."""
    p = m.spawn()
    a = p.mmap(0, 3 * PAGE_SIZE, RW, ANON)
    p.mprotect(a, PAGE_SIZE, PROT_NONE)
    p.munmap(a + 2 * PAGE_SIZE, PAGE_SIZE)
    results = p.batch([("load", a, 1), ("load", a + 2 * PAGE_SIZE - 1, 2)])
    assert isinstance(results[0], ProcessKilled)
    assert isinstance(results[1], ProcessLookupError)
