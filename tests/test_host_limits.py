"""The limits of a HostMachine: processes, disk, bytes per call, wall time; clear errors."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from mmapsim import MAP_ANONYMOUS, MAP_PRIVATE, O_CREAT, O_RDONLY, O_RDWR, PAGE_SIZE
from mmapsim.host.boundary import HostRefused

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")


def _host(**limits: object) -> object:
    from mmapsim.host import HostMachine

    return HostMachine(**limits)  # type: ignore[arg-type]


def test_a_fork_loop_stops_at_max_processes_with_EAGAIN():
    with _host(max_processes=4) as m:
        p = m.spawn()
        made = 1
        err = None
        for _ in range(100):
            try:
                p.fork()
            except OSError as exc:
                err = exc
                break
            made += 1
        assert err is not None
        assert err.errno == errno.EAGAIN
        assert made == 4
        assert p.alive


def test_a_disk_filler_gets_ENOSPC_and_the_rest_of_the_computer_is_untouched(tmp_path: Path):
    canary = tmp_path / "canary"
    canary.write_bytes(b"untouched")
    with _host(max_disk_bytes=1 << 20) as m:
        p = m.spawn()
        fd = p.open("/tmp/fill", O_RDWR | O_CREAT)
        written, err = 0, None
        for _ in range(100):
            try:
                written += p.write(fd, b"x" * 65536)
            except OSError as exc:
                err = exc
                break
        assert err is not None
        assert err.errno == errno.ENOSPC
        assert written <= 1 << 20
        assert p.write(2, b"a pipe or device takes no disk") > 0
        root = m._state.ns.root
    assert canary.read_bytes() == b"untouched"
    assert not os.path.exists(root)


def test_a_read_of_dev_zero_is_bounded_by_max_io_bytes():
    with _host(max_io_bytes=1 << 20) as m:
        p = m.spawn()
        fd = p.open("/dev/zero", O_RDONLY)
        with pytest.raises(HostRefused, match="max_io_bytes"):
            p.read(fd, 1 << 30)
        assert p.read(fd, 1 << 20) == bytes(1 << 20)
        with pytest.raises(HostRefused, match="max_io_bytes"):
            m.read_file("/dev/zero")
        a = p.mmap(0, 512 * PAGE_SIZE, 3, MAP_PRIVATE | MAP_ANONYMOUS)
        with pytest.raises(HostRefused):
            p.load(a, 512 * PAGE_SIZE)


def test_fd_2_of_a_worker_is_the_machines_dev_null():
    with _host() as m:
        p = m.spawn()
        assert p.write(2, b"goes nowhere") == 12  # the worker serves: it is set up
        assert os.readlink(f"/proc/{p.pid}/fd/2").endswith("/dev/null")


def test_bad_limits_are_a_clear_ValueError():
    with pytest.raises(ValueError, match="max_processes"):
        _host(max_processes=0)
    with pytest.raises(ValueError, match="max_call_seconds"):
        _host(max_call_seconds=-1)


def test_a_call_past_max_call_seconds_kills_its_process_with_a_clear_error():
    from mmapsim.host.limits import HostTimeout, Limits

    with _host() as m:
        p = m.spawn()
        a = p.mmap(0, 16 << 20, 3, MAP_PRIVATE | MAP_ANONYMOUS)
        m._state.limits = Limits(max_call_seconds=1e-4)  # no 16 MiB store is that fast
        with pytest.raises(HostTimeout, match="max_call_seconds"):
            p.store(a, bytes(16 << 20))
        assert not p.alive
        q = m.spawn()  # the machine goes on
        assert q.alive


def test_memory_past_max_memory_kills_the_process_not_the_computer():
    from mmapsim import ProcessKilled

    with _host(max_memory=64 << 20) as m:
        if not any("memory" in g for g in m._state.groups):
            pytest.skip("no writable memory cgroup here")
        p = m.spawn()
        size = 256 << 20
        a = p.mmap(0, size, 3, MAP_PRIVATE | MAP_ANONYMOUS)  # mapping is not limited
        death = None
        for off in range(0, size, 16 << 20):
            try:
                p.store(a + off, b"\1" * (16 << 20))
            except ProcessKilled as exc:
                death = exc
                break
        assert death is not None
        assert death.signal.name == "SIGKILL"


def test_stores_through_a_shared_file_mapping_stop_at_a_full_disk():
    from mmapsim import MAP_SHARED

    with _host(max_disk_bytes=1 << 20) as m:
        p = m.spawn()
        fd = p.open("/tmp/sparse", O_RDWR | O_CREAT)
        size = 8 << 20
        p.ftruncate(fd, size)  # sparse: no block yet, as on Linux
        a = p.mmap(0, size, 3, MAP_SHARED, fd, 0)
        refused = None
        for off in range(0, size, 1 << 20):
            try:
                p.store(a + off, b"\1" * (1 << 20))
                p.fsync(fd)
            except HostRefused as exc:
                refused = exc
                break
        assert refused is not None
        assert "max_disk_bytes" in str(refused)
        assert p.alive
