"""The boundary holds even when the worker maps its own memory into a hole of the
program's range between the controller's check and the call.

The worker's own allocations (a malloc of a large request's buffer, a new
arena) may land in any hole.  A test-only hook (``MMAPSIM_HOST_TEST_HOOKS=1``,
as in ``test_host_confinement``) maps a page of a file at a chosen address
inside the worker at the worst moment: right before the worker acts at the
hole.  The program must still get what it alone gets (SIGSEGV at the hole,
ENOMEM, a munmap that skips the hole), and the worker's page must be neither
written, read, unmapped nor dropped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")

_PROBE = textwrap.dedent(
    """\
    import json, os, warnings
    warnings.simplefilter("ignore")
    from mmapsim.constants import (
        IPC_CREAT, IPC_PRIVATE, SHM_REMAP, MADV_REMOVE,
        MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, MAP_SHARED,
        MREMAP_FIXED, MREMAP_MAYMOVE, MS_SYNC, PAGE_SIZE, PROT_READ, PROT_WRITE,
    )
    from mmapsim.errors import HostRefused, ProcessKilled
    from mmapsim.host import HostMachine

    P, RW = PAGE_SIZE, PROT_READ | PROT_WRITE
    ANON, MOVE_TO = MAP_ANONYMOUS, MREMAP_MAYMOVE | MREMAP_FIXED
    MARK = b"W" * P
    out = {}

    def mapped(pid, path):
        with open(f"/proc/{pid}/maps") as f:
            return any(line.rstrip().endswith(path) for line in f)

    with HostMachine() as m:
        real = m._state.ns.real("/worker-page")
        spare = []

        def setup(flags=MAP_PRIVATE | MAP_ANONYMOUS):
            with open(real, "wb") as f:
                f.write(MARK)
            p = m.spawn()
            spare.append(p.mmap(0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS))  # a mapping elsewhere
            a = p.mmap(0, 3 * P, RW, flags)
            p.munmap(a + P, P)  # the hole
            return p, a, a + P

        def plant(p, va):
            assert p._call("raw_probe", "plant", f"{va:x} {real}") == 0

        def died(call):
            try:
                call()
            except ProcessKilled as exc:
                return [exc.signal.name, exc.addr]
            return None

        def intact():
            with open(real, "rb") as f:
                return f.read() == MARK

        for name, off, size in (("store", P - 8, 16), ("store_in", P + 5, 8), ("load", P - 8, 16)):
            for planted in (False, True):
                p, a, hole = setup()
                if planted:
                    plant(p, hole)
                va = a + off
                if name.startswith("store"):
                    got = died(lambda: p.store(va, b"X" * size))
                else:
                    got = died(lambda: p.load(va, size))
                key = name if planted else name + "_control"
                out[key] = [got, max(va, hole), intact(), p.alive]

        p = m.spawn()
        top = p.mmap(0, 4 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN)
        plant(p, top - P)
        with open(real, "wb") as f:
            f.write(MARK)
        out["grows"] = [died(lambda: p.store(top - 8, b"X" * 16)), top - 8, intact()]
        q = m.spawn()
        top = q.mmap(0, 4 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN)
        q.store(top - 8, b"Y" * 16)
        out["grows_control"] = q.load(top - 8, 16) == b"Y" * 16

        p, a, hole = setup()
        p.store(a, b"A")
        plant(p, hole)
        p.munmap(a, 3 * P)
        gone = [(s, e) for s, e in p.pages.ranges() if s < a + 3 * P and e > a]
        out["munmap"] = [p.alive, mapped(p.pid, real), intact(), gone]

        for name, call in (
            ("msync", lambda p, a: p.msync(a, 3 * P, MS_SYNC)),
            ("madvise", lambda p, a: p.madvise(a, 3 * P, MADV_REMOVE)),
        ):
            p, a, hole = setup(MAP_SHARED | MAP_ANONYMOUS)
            plant(p, hole)
            try:
                call(p, a)
                err = 0
            except OSError as exc:
                err = exc.errno
            out[name] = [err, p.alive, mapped(p.pid, real), intact()]

        def refused(call):
            try:
                call()
            except HostRefused:
                return True
            return False

        for name, call in (
            ("map_fixed", lambda p, a: p.mmap(a, 3 * P, RW, MAP_FIXED | MAP_PRIVATE | ANON)),
            ("mremap_shrink", lambda p, a: p.mremap(a, 3 * P, P)),
            ("mremap_fixed", lambda p, a: p.mremap(spare[-1], P, 3 * P, MOVE_TO, a)),
            ("shmat", lambda p, a: p.shmat(p.shmget(IPC_PRIVATE, 3 * P, IPC_CREAT | 0o600), a,
                                           SHM_REMAP)),
        ):
            p, a, hole = setup()
            p.store(a, b"A")
            plant(p, hole)
            out[name] = [refused(lambda: call(p, a)), p.alive, mapped(p.pid, real), intact(),
                         p.load(a, 1) == b"A"]
        p, a, hole = setup()
        try:
            p.mmap(a, 3 * P, RW, MAP_FIXED | MAP_SHARED, 99, 0)
            err = 0
        except OSError as exc:
            err = exc.errno
        with open(f"/proc/{p.pid}/maps") as f:
            held = [line for line in f if line.split()[1] == "---s"]
        out["claims_undone"] = [err, held, p.load(a, 1) == bytes(1)]
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def out() -> dict[str, object]:
    env = dict(os.environ, MMAPSIM_HOST_TEST_HOOKS="1")
    run = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = json.loads(run.stdout)
    return result


@pytest.mark.parametrize("name", ["store", "store_in", "load"])
def test_an_access_dies_at_the_hole_without_touching_the_worker_page_mapped_there(out, name):
    got, fault, intact, alive = out[name]
    assert got == ["SIGSEGV", fault]  # the program alone's death, at the hole's address
    assert intact
    assert not alive


@pytest.mark.parametrize("name", ["store", "store_in", "load"])
def test_without_the_worker_page_the_same_access_takes_the_kernel_fault(out, name):
    got, fault, _intact, alive = out[name + "_control"]
    assert got == ["SIGSEGV", fault]
    assert not alive


def test_a_store_that_would_grow_a_growsdown_mapping_never_writes_a_worker_page_there(out):
    got, fault, intact = out["grows"]
    assert got == ["SIGSEGV", fault]
    assert intact
    assert out["grows_control"]  # with the page free, the mapping grows as before


def test_munmap_over_a_hole_leaves_the_worker_page_mapped_there(out):
    alive, mapped, intact, ranges = out["munmap"]
    assert alive
    assert mapped
    assert intact
    assert ranges == []


@pytest.mark.parametrize("name", ["msync", "madvise"])
def test_msync_and_madvise_over_a_hole_skip_the_worker_page_and_fail_with_enomem(out, name):
    err, alive, mapped, intact = out[name]
    assert err == 12
    assert alive
    assert mapped
    assert intact


@pytest.mark.parametrize("name", ["map_fixed", "mremap_shrink", "mremap_fixed", "shmat"])
def test_a_call_that_unmaps_its_range_is_refused_when_a_worker_page_came_into_its_hole(
    out, name
):
    refused, alive, mapped, intact, kept = out[name]
    assert refused  # as if the worker's page had been there at the check
    assert alive
    assert mapped  # the worker's page is still there, and unchanged
    assert intact
    assert kept  # and so are the program's pages


def test_the_holes_held_for_a_call_that_fails_are_let_go(out):
    err, held, kept = out["claims_undone"]
    assert err == 9  # EBADF, before the kernel unmaps anything
    assert held == []  # no mapping of the worker's is left in the hole
    assert kept


def test_a_call_over_the_program_s_own_mapped_pages_is_sent_as_before():
    """The common case carries nothing more: no hole, no pieces, no extra call."""
    from mmapsim.constants import MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE
    from mmapsim.host import HostMachine

    with HostMachine() as m:
        p = m.spawn()
        a = p.mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        sent: list[tuple[str, tuple[object, ...]]] = []
        rpc = m._state.rpc

        def spy(chan, op, args, fds, *, pid):
            sent.append((op, args))
            return rpc(chan, op, args, fds, pid=pid)

        m._state.rpc = spy
        p.store(a, b"xy")
        assert p.load(a, 2) == b"xy"
        p.mprotect(a, PAGE_SIZE, PROT_READ)
        p.msync(a, PAGE_SIZE, 0)
        p.munmap(a, 2 * PAGE_SIZE)
        assert sent == [
            ("store", (a, b"xy")),
            ("load", (a, 2)),
            ("mprotect", (a, PAGE_SIZE, PROT_READ)),
            ("msync", (a, PAGE_SIZE, 0)),
            ("munmap", (a, 2 * PAGE_SIZE)),
        ]
