"""Hostile scenarios on the real kernel: each ends with exit 1 or 2 and a message.

Never exit 0 for a refused step, never a traceback, never a hang; a canary
file outside the machine stays as it was, and no process or private root is
left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")

MAP = "A: p = mmap(0, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n"

HOSTILE = {
    "read_above_first_mapping": MAP + "A: x = p.long[512]\n",
    "read_libc_pointer_into_expect": MAP + "expect A: p.long[513] == 0\n",
    "mprotect_above": MAP + "A: mprotect(p + 4096, 4096, PROT_READ|PROT_WRITE|PROT_EXEC)\n",
    "store_code_above": MAP + 'A: p[4096:4162] = "' + "\\x90" * 66 + '"\n',
    "munmap_everything": MAP + "A: munmap(p, 8192)\n",
    "map_fixed_over_worker": MAP
    + "A: q = mmap(p, 1 << 20, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0)\n",
    "forge_the_table": MAP + "A: p.long[1024] = 1\nA: p.long[1025] = 63\n",
    "dev_zero": MAP + 'expect file("/dev/zero") == ""\n',
    "msync_worker": MAP + "A: msync(p, 1 << 30, MS_SYNC)\n",
    "expect_after_refusal": MAP + "expect A: mprotect(p + 4096, 4096, PROT_NONE) fails EPERM\n",
}


def _run(path: Path, tmpdir: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MMAPSIM_HOST_TMPDIR=tmpdir)
    cmd = [sys.executable, "-m", "mmapsim", "run", "--kernel", "host", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_scenario_ends_with_a_message_and_exit_1_or_2(name: str, tmp_path: Path):
    canary = tmp_path / "canary"
    canary.write_bytes(b"untouched")
    path = tmp_path / f"{name}.mmap"
    path.write_text(textwrap.dedent(HOSTILE[name]))
    roots = tempfile.mkdtemp(dir=tmp_path)
    run = _run(path, roots)
    assert run.returncode in (1, 2), run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    if run.returncode == 2:
        assert f"{name}.mmap:" in run.stderr
    assert canary.read_bytes() == b"untouched"
    assert os.listdir(roots) == []  # the private root is gone
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False)
    assert str(path) not in ps.stdout
