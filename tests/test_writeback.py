"""Time and writeback: the simulated clock, the writeback daemon, MS_ASYNC."""

from __future__ import annotations

import os
import time

import pytest

from helpers import PAGE, RW, new_file, smaps_at
from mmapsim import MAP_SHARED, MS_ASYNC, MS_SYNC, Machine
from mmapsim.events import Writeback


def _mapped(m, npages=2, path="/tmp/f"):
    p = m.spawn()
    fd = new_file(m, p, path, b"." * (npages * PAGE))
    return p, p.mmap(0, npages * PAGE, RW, MAP_SHARED, fd, 0)


def _on_disk(m, path="/tmp/f", at=0, n=4):
    return m.disk_image().read(path)[at : at + n]


def test_MS_ASYNC_starts_no_writeback(machine):
    """After MS_ASYNC the stored page is still dirty: Linux starts no writeback."""
    p, a = _mapped(machine, npages=1)  # one page: no larger folio on the host
    p.store(a, b"AB")
    p.msync(a, PAGE, MS_ASYNC)
    dirty = smaps_at(p, a)
    assert dirty["Private_Dirty"] + dirty["Shared_Dirty"] == 4
    p.msync(a, PAGE, MS_SYNC)
    clean = smaps_at(p, a)
    assert clean["Private_Dirty"] + clean["Shared_Dirty"] == 0


@pytest.mark.simonly
def test_the_clock_moves_only_when_told():
    """A new machine's uptime is 0; advance() moves it, and nothing else does."""
    with Machine() as m:
        p, a = _mapped(m)
        p.store(a, b"x")
        assert m.uptime == 0
        m.advance(2.5)
        assert m.uptime == 2.5
        m.advance(0)
        assert m.uptime == 2.5


@pytest.mark.simonly
def test_the_daemon_wakes_5_s_after_the_disk_gets_dirty_and_every_5_s_after():
    """A page dirtied at 1 s on a clean disk: wake-ups at 6, 11, ... 31 s; written at 31 s."""
    with Machine() as m:
        p, a = _mapped(m)
        m.advance(1)
        p.store(a, b"AB")
        p.msync(a, 2 * PAGE, MS_ASYNC)
        assert m.kernel.flusher.armed_ns == 6 * 10**9
        with m.events.record() as events:
            assert m.advance(29) == 0  # 30 s: dirty for 29 s at the wake-up of 26 s and now
            assert _on_disk(m) == b"...."
            assert m.kernel.flusher.armed_ns == 31 * 10**9
            assert m.advance(1) == 1
        assert _on_disk(m) == b"AB.."
        (written,) = [e for e in events if isinstance(e, Writeback)]
        assert (written.pgoff, written.cause, written.uptime_ns) == (0, "flusher", 31 * 10**9)
        assert "at 31 s" in written.describe()
        assert m.kernel.flusher.armed_ns is None  # nothing dirty: the timer rests


@pytest.mark.simonly
def test_a_disk_made_clean_by_fsync_rearms_the_timer_at_its_next_dirty_page():
    """The timer counts from when a clean disk gets dirty again, as wb_wakeup_delayed does."""
    with Machine() as m:
        p, a = _mapped(m)
        p.store(a, b"AB")
        p.msync(a, PAGE, MS_SYNC)
        m.advance(3)
        p.store(a, b"CD")
        assert m.kernel.flusher.armed_ns == 8 * 10**9
        m.advance(29)
        assert _on_disk(m, n=2) == b"AB"
        m.advance(4)  # 36 s: the wake-up at 33 s found it 30 s old
        assert _on_disk(m, n=2) == b"CD"


@pytest.mark.simonly
def test_expiry_counts_from_when_the_file_first_became_dirty():
    """A page stored 22 s after its neighbour goes to disk with it (inode->dirtied_when)."""
    with Machine() as m:
        p, a = _mapped(m)
        p.store(a, b"old")
        m.advance(22)
        p.store(a + PAGE, b"new")
        m.advance(8)
        assert _on_disk(m, n=3) == b"old"
        assert _on_disk(m, at=PAGE, n=3) == b"new"


@pytest.mark.simonly
def test_a_file_dirtied_again_after_writeback_waits_30_s_more():
    """Once written, a file's age starts again at its next store."""
    with Machine() as m:
        p, a = _mapped(m)
        p.store(a, b"one")
        m.advance(30)
        p.store(a, b"two")
        m.advance(25)
        assert _on_disk(m, n=3) == b"one"
        m.advance(5)
        assert _on_disk(m, n=3) == b"two"


@pytest.mark.simonly
def test_each_file_has_its_own_age():
    """Two files dirtied 10 s apart reach the disk at different wake-ups."""
    with Machine() as m:
        p, a = _mapped(m, path="/tmp/a")
        q, b = _mapped(m, path="/tmp/b")
        p.store(a, b"A")
        m.advance(10)
        q.store(b, b"B")
        m.advance(20)
        assert (_on_disk(m, "/tmp/a", n=1), _on_disk(m, "/tmp/b", n=1)) == (b"A", b".")
        m.advance(10)
        assert _on_disk(m, "/tmp/b", n=1) == b"B"


@pytest.mark.simonly
def test_both_intervals_are_settable():
    """dirty_writeback_centisecs=100 and dirty_expire_centisecs=200: on disk after 2 s."""
    with Machine(dirty_writeback_centisecs=100, dirty_expire_centisecs=200) as m:
        p, a = _mapped(m)
        p.store(a, b"AB")
        m.advance(1.99)
        assert _on_disk(m, n=2) == b".."
        m.advance(0.01)
        assert _on_disk(m, n=2) == b"AB"


@pytest.mark.simonly
def test_dirty_writeback_centisecs_0_turns_the_daemon_off():
    """With the periodic writeback off, a dirty page stays dirty for ever."""
    with Machine(dirty_writeback_centisecs=0) as m:
        p, a = _mapped(m)
        p.store(a, b"AB")
        assert m.advance(3600) == 0
        assert _on_disk(m, n=2) == b".."
        assert m.kernel.fs.lookup("/tmp/f").dirty == {0}


@pytest.mark.simonly
def test_a_store_during_a_long_sleep_is_not_lost_by_the_daemon():
    """The daemon write-protects the pages it cleans: the next store dirties them again."""
    with Machine(check_invariants=True) as m:
        p, a = _mapped(m)
        p.store(a, b"one")
        m.advance(30)
        p.store(a, b"two")
        assert m.kernel.fs.lookup("/tmp/f").dirty == {0}


@pytest.mark.simonly
@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"dirty_writeback_centisecs": -1}, ValueError),
        ({"dirty_expire_centisecs": -5}, ValueError),
        ({"dirty_writeback_centisecs": 5.0}, TypeError),
        ({"dirty_expire_centisecs": True}, TypeError),
    ],
)
def test_bad_intervals_are_refused(options, error):
    """The intervals are whole, non-negative numbers of centiseconds."""
    with pytest.raises(error):
        Machine(**options)


@pytest.mark.simonly
@pytest.mark.parametrize(
    ("seconds", "error"),
    [(-1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError), ("1", TypeError)],
)
def test_bad_advances_are_refused(seconds, error):
    """Time moves forward by a finite number of seconds."""
    with Machine() as m, pytest.raises(error):
        m.advance(seconds)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("MMAPSIM_SLOW"), reason="40 s of real time: MMAPSIM_SLOW=1")
def test_linux_writes_a_page_left_by_MS_ASYNC_after_about_30_s(machine, is_host):
    """The oracle for the daemon: on Linux a page left dirty by MS_ASYNC is clean 30-40 s later."""
    p, a = _mapped(machine, npages=1)
    p.store(a, b"AB")
    p.msync(a, PAGE, MS_ASYNC)

    def dirty() -> int:
        fields = smaps_at(p, a)
        return fields["Private_Dirty"] + fields["Shared_Dirty"]

    wait = time.sleep if is_host else machine.advance
    wait(25)
    assert dirty() == 4
    wait(15)
    assert dirty() == 0
