"""The second round's calls in the scenario language, on both machines."""

from __future__ import annotations

from typing import Any

import pytest

from mmapsim.scenario import Runner, ScenarioError, StepResult, check_scenario, parse_text
from mmapsim.scenario.lang.ipc_values import Pid, ShmDs
from mmapsim.scenario.lang.values import Addr
from mmapsim.scenario.render import plain_outcome
from mmapsim.scenario.run.compare import Observer


def run(machine: Any, text: str) -> list[StepResult]:
    scenario = parse_text(text, "t.mmap")
    check_scenario(scenario)
    return list(Runner(machine).run(scenario))


def test_shmget_and_shmat_read_like_c(machine: Any) -> None:
    """shmget gives the id, shmat an address; IPC_STAT's fields are read as in C."""
    results = run(
        machine,
        "A: id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)\n"
        "A: p = shmat(id, NULL, 0)\n"
        'A: p[0:2] = "hi"\n'
        "A: s = shmctl(id, IPC_STAT)\n"
        "A: expect s.shm_nattch == 1\n"
        "A: expect s.shm_segsz == 4096\n"
        "A: expect s.shm_perm_mode == 0o600\n"
        "A: shmctl(id, IPC_SET, 0o640)\n"
        "A: expect shmctl(id, IPC_STAT).shm_perm_mode == 0o640\n"
        "A: shmdt(p)\n"
        "A: shmctl(id, IPC_RMID)\n"
        "A: expect shmat(id, NULL, 0) fails EINVAL\n",
    )
    assert plain_outcome(results[0]) == "id = 0"
    assert isinstance(results[1].bindings[0][1], Addr)
    info = results[3].bindings[0][1]
    assert isinstance(info, ShmDs)
    assert plain_outcome(results[3]).startswith("s = {shm_perm_key = 0x0, shm_perm_mode = 0o600")
    assert all(r.expect is None or r.expect.ok for r in results)


def test_waitpid_gives_the_childs_pid_and_status(machine: Any) -> None:
    """pid, status = waitpid(...) binds a pid that names its process; the macros read status."""
    results = run(
        machine,
        "A:\n"
        "B = fork(A)\n"
        "B: exit(5)\n"
        "A: pid, status = waitpid(-1, 0)\n"
        "A: expect WIFEXITED(status) == 1\n"
        "A: expect WEXITSTATUS(status) == 5\n"
        "A: expect waitpid(-1, WNOHANG) fails ECHILD\n",
    )
    pid = results[3].bindings[0][1]
    assert isinstance(pid, Pid)
    assert pid.process == "B"
    assert Observer().observe(results[3]) == "pid = pid of B, status = 1280"
    assert all(r.expect is None or r.expect.ok for r in results)


def test_memfd_dup_and_shm_open_in_a_scenario(machine: Any) -> None:
    """memfd_create, dup, dup2, shm_open and shm_unlink run by their C names."""
    results = run(
        machine,
        'A: fd = memfd_create("m", MFD_CLOEXEC)\n'
        'A: write(fd, "abc")\n'
        "A: d = dup(fd)\n"
        "A: expect lseek(d, 0, SEEK_CUR) == 3\n"
        "A: dup2(fd, 9)\n"
        'A: s = shm_open("/x", O_RDWR | O_CREAT, 0o600)\n'
        'A: shm_unlink("/x")\n'
        'A: expect shm_unlink("/x") fails ENOENT\n',
    )
    assert [plain_outcome(r) for r in results[:3]] == ["fd = 3", "3", "d = 4"]
    assert all(r.expect is None or r.expect.ok for r in results)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A: shmget(0, 4096)\n", "shmget takes 3 arguments, not 2"),
        ("A: waitpid()\n", "waitpid takes 1 or 2 arguments, not 0"),
        ("WEXITSTATUS = 3\n", "WEXITSTATUS is a call, not a variable"),
        ("shmdt(0)\n", r"shmdt\(\) runs in a process"),
    ],
)
def test_mistakes_are_reported(text: str, message: str) -> None:
    """Wrong argument counts and misuse of the new names are scenario errors."""
    with pytest.raises(ScenarioError, match=message):
        check_scenario(parse_text(text, "t.mmap"))
