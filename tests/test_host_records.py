"""The controller's records of how a host machine's processes ended are out of the
workers' reach: each worker reports only its own death.

No worker holds a descriptor or a writable mapping of another process's record:
its only shared writable mapping is its own fault page, and the wait status
comes from the kernel (the zombie's ``/proc/<pid>/stat``).  Code running inside
a worker (the test-only hook of ``test_host_confinement``, as if the boundary
had a hole) scribbles over everything shared it can write and tries to open
another worker's descriptors: the controller's verdicts stay the kernel's.
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
    from mmapsim.host import HostMachine

    def shared_writable(pid):
        with open(f"/proc/{pid}/maps") as f:
            rows = [line.split() for line in f]
        return [(r[5] if len(r) > 5 else "", r[4]) for r in rows if r[1] == "rw-s"]

    def memfds(x):
        x._call("fstat", 0)  # served: the worker has closed its page's memfd by now
        pid = x.pid
        links = [os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")]
        return [link for link in links if link.startswith("/memfd:")]

    out = {}
    with HostMachine() as m:
        p = m.spawn()
        c = p.fork()
        q = m.spawn()
        out["maps"] = {name: shared_writable(x.pid) for name, x in (("p", p), ("c", c), ("q", q))}
        out["memfds"] = {name: memfds(x) for name, x in (("p", p), ("c", c), ("q", q))}
        probe = lambda x, kind, arg: x._call("raw_probe", kind, arg)
        out["open_q"] = probe(p, "open_memory", str(q.pid))
        out["open_c"] = probe(p, "open_memory", str(c.pid))
        out["open_p"] = probe(c, "open_memory", str(p.pid))
        out["scribble_p"] = probe(p, "scribble", "")
        out["scribble_c"] = probe(c, "scribble", "")
        out["alive"] = [p.alive, c.alive, q.alive]
        c.exit(3)
        q.exit(4)
        out["c"] = [c.alive, c.exit_status, str(c.term_signal)]
        out["q"] = [q.alive, q.exit_status, str(q.term_signal)]
        out["p_alive"] = p.alive
        r = p.fork()
        out["r"] = r.load(0, 0) == b"" and r.alive
        r.exit(5)
        out["r_status"] = r.exit_status
    print(json.dumps(out))
    """
)


def test_a_worker_cannot_write_another_process_record():
    env = dict(os.environ, MMAPSIM_HOST_TEST_HOOKS="1")
    run = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    inodes = set()
    for name, rows in out["maps"].items():
        # one shared writable mapping each: its own fault page, of its own memfd
        assert [path for path, _inode in rows] == ["/memfd:mmapsim-fault"], (name, rows)
        inodes.add(rows[0][1])
    assert len(inodes) == 3  # nobody maps another's page (a fork child gave up its parent's)
    assert out["memfds"] == {"p": [], "c": [], "q": []}  # and nobody holds a memfd
    # /proc/<pid>/mem is not writable (Landlock: EACCES), map_files/* needs the
    # CAP_SYS_ADMIN that workers lack (EPERM; without map_files, EACCES)
    assert out["open_q"] == out["open_c"] == out["open_p"]
    assert out["open_q"] in (1, 13)
    assert out["scribble_p"] == out["scribble_c"] == 0
    assert out["alive"] == [True, True, True]
    assert out["c"] == [False, 3, "None"]  # the kernel's verdicts, whatever was scribbled
    assert out["q"] == [False, 4, "None"]
    assert out["p_alive"]
    assert out["r"]
    assert out["r_status"] == 5
