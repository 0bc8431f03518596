"""The kernel's confinement of HostMachine workers, on its own (without the boundary).

Code that runs inside a worker (here: raw system calls sent through a
test-only hook, as if the boundary had a hole) cannot open a file outside the
machine's private root, cannot exec /bin/sh, cannot open a new socket.  The
hook exists only where ``MMAPSIM_HOST_TEST_HOOKS=1`` was set before the
controller started its master, so each test runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")

_PROBE = textwrap.dedent(
    """\
    import json, os, socket, sys, warnings
    warnings.simplefilter("error" if os.geteuid() == 0 else "ignore")  # as root: every layer
    from mmapsim.host import HostMachine, sandbox
    canary = sys.argv[1]
    with HostMachine() as m:
        p = m.spawn()
        out = {"layers": sandbox.in_force(p.pid)}
        out["ipc"] = os.readlink(f"/proc/{p.pid}/ns/ipc") != os.readlink("/proc/self/ns/ipc")
        out["mnt"] = os.readlink(f"/proc/{p.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        probe = lambda kind, arg: p._call("raw_probe", kind, arg)
        out["open_outside"] = probe("open", canary)
        out["read_etc_shadow"] = probe("read", "/etc/shadow")
        out["read_home"] = probe("read", os.path.expanduser("~"))
        out["open_inside"] = probe("open", m._state.ns.root + "/tmp/inside")
        out["open_shm"] = probe("open", "/dev/shm/x")
        out["read_etc"] = probe("read", "/etc/hostname")
        out["read_libc"] = probe("read", "/usr/lib/x86_64-linux-gnu/libc.so.6")
        out["socket_inet"] = probe("socket", str(int(socket.AF_INET)))
        out["socket_unix"] = probe("socket", str(int(socket.AF_UNIX)))
        out["exec_sh"] = probe("execve", "/bin/sh")
        out["alive"] = p.alive
        out["shm_private"] = not os.path.exists("/dev/shm/x")
    print(json.dumps(out))
    """
)


def test_code_inside_a_worker_is_confined_by_the_kernel(tmp_path: Path):
    canary = tmp_path / "canary"
    canary.write_bytes(b"untouched")
    env = dict(os.environ, MMAPSIM_HOST_TEST_HOOKS="1")
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, str(canary)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["layers"] == {"no_new_privs": True, "seccomp": True}
    if os.geteuid() == 0:  # the namespaces need root (CAP_SYS_ADMIN)
        assert out["ipc"]
        assert out["mnt"]
        assert out["shm_private"]  # the machine's own /dev/shm is not the host's
    assert out["open_outside"] == 13  # EACCES: Landlock
    assert out["read_etc_shadow"] == 13
    assert out["open_inside"] == 0
    assert out["open_shm"] == (0 if os.geteuid() == 0 else 13)
    assert out["read_etc"] == 13
    assert out["read_libc"] in (0, 2)  # the libraries stay readable (2: not at that path)
    assert out["socket_inet"] == 1  # EPERM: seccomp
    assert out["socket_unix"] == 1
    assert out["exec_sh"] == 13  # EACCES: Landlock allows only the interpreter
    assert out["alive"]
    assert canary.read_bytes() == b"untouched"


def test_a_reply_cannot_run_code_in_the_controller():
    """A subverted worker's pickle that would call os.system is refused, not run."""
    import pickle

    from mmapsim.host.channel import ChannelBroken, _load_reply

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("echo pwned",))

    with pytest.raises(ChannelBroken, match="may not hold"):
        _load_reply(pickle.dumps((1, (True, Evil()))))
    stat = os.stat("/")
    assert _load_reply(pickle.dumps((1, (True, stat)))) == (1, (True, stat))
    err = FileNotFoundError(2, "No such file or directory", "/x")
    got = _load_reply(pickle.dumps((1, (False, err))))
    assert isinstance(got, tuple)
    assert isinstance(got[1][1], FileNotFoundError)
