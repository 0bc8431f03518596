"""Running scenario steps: values, loads and stores, failures, deaths, expects.

Each test runs on both machines through the ``machine`` fixture: a scenario
means the same on the simulator and on the real kernel.
"""

from __future__ import annotations

from typing import Any

import pytest

from mmapsim.scenario import Runner, ScenarioError, StepResult, check_scenario, parse_text
from mmapsim.scenario.lang.values import Addr, Frame
from mmapsim.scenario.render import plain_outcome

ANON = "A: p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)\n"


def run(machine: Any, text: str) -> list[StepResult]:
    """Parse, check and run ``text``; every step's result."""
    scenario = parse_text(text, "t.mmap")
    check_scenario(scenario)
    return list(Runner(machine).run(scenario))


def last(machine: Any, text: str) -> StepResult:
    return run(machine, text)[-1]


def test_mmap_gives_an_address(machine: Any) -> None:
    """mmap's answer is an address, printed in hex."""
    result = last(machine, ANON)
    name, value = result.bindings[0]
    assert name == "p"
    assert isinstance(value, Addr)
    assert value % 4096 == 0
    assert plain_outcome(result) == f"p = {value:#x}"


def test_a_failing_call_returns_what_c_returns(machine: Any) -> None:
    """A failed open binds -1 and shows the errno; a failed mmap gives MAP_FAILED."""
    results = run(
        machine,
        'A: fd = open("/tmp/none", O_RDONLY)\n'
        "A: q = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)\n",
    )
    assert plain_outcome(results[0]) == "fd = -1 ENOENT (No such file or directory)"
    assert plain_outcome(results[1]) == "q = MAP_FAILED EINVAL (Invalid argument)"


def test_arguments_convert_as_in_c(machine: Any) -> None:
    """-1 as a length is SIZE_MAX, as a C compiler converts it: EINVAL, not a crash."""
    result = last(machine, ANON + "A: expect munmap(p, -1) fails EINVAL")
    assert result.expect is not None
    assert result.expect.ok, result.expect.message


def test_loads_and_stores_of_bytes_and_ints(machine: Any) -> None:
    """p[i] is a byte, p[a:b] bytes, p.int[i] a 32-bit int, p.long[i] a 64-bit one."""
    results = run(
        machine,
        ANON
        + 'A: p[0:3] = "abc"\nA: p[3] = 100\nA: p[0:4]\n'
        + "A: p.int[1] = -1\nA: p[4:8]\nA: p.int[1]\nA: p.long[1] = 1 << 40\nA: p.long[1]\n",
    )
    values = [r.value for r in results]
    assert values[3] == b"abcd"
    assert values[5] == b"\xff\xff\xff\xff"
    assert values[6] == -1
    assert values[8] == 1 << 40


def test_augmented_assignment_loads_and_stores(machine: Any) -> None:
    """p.int[0] += 1 reads the int, adds, and stores it back."""
    result = last(machine, ANON + "A: p.int[0] = 41\nA: p.int[0] += 1")
    assert result.value == 42
    assert plain_outcome(result) == "p.int[0] = 42"


def test_bytes_values_join_repeat_and_slice(machine: Any) -> None:
    """Strings are bytes: + joins, * repeats, [a:b] slices."""
    results = run(machine, 'x = "ab" * 2 + "c"\ny = x[1:3]\nz = len(x)\n')
    assert [r.bindings[0][1] for r in results] == [b"ababc", b"ba", 5]


def test_a_store_of_the_wrong_size_is_a_mistake(machine: Any) -> None:
    """Storing 3 bytes into a 2-byte slice names the line and column."""
    with pytest.raises(ScenarioError, match=r"t\.mmap:2:4: cannot store bytes into 2 bytes"):
        run(machine, ANON + 'A: p[0:2] = "abc"')


def test_division_by_zero_is_a_mistake(machine: Any) -> None:
    """A division by zero stops the scenario with its place."""
    with pytest.raises(ScenarioError, match="division by zero"):
        run(machine, "A: x = 1 / 0")


def test_a_killed_process_runs_nothing_more(machine: Any) -> None:
    """After SIGSEGV, a later step of that process is skipped, naming the line of its death."""
    text = "A: p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)\n"
    scenario = parse_text(text + 'A: p[0] = "x"\nA: p[0]\n', "t.mmap")
    results = list(Runner(machine).run(scenario))
    death = results[1].killed
    assert death is not None
    assert (death.process, death.signal, death.expected) == ("A", "SIGSEGV", False)
    assert "protection" in death.reason
    assert results[1].failed
    assert results[2].skipped == "A was killed by SIGSEGV at line 2"
    assert not results[2].failed


def test_expects_say_what_they_saw(machine: Any) -> None:
    """A failed expect shows the value found; fails/kills expects say what happened."""
    results = run(
        machine,
        ANON
        + 'A: p[0:2] = "hi"\nA: expect p[0:2] == "ho"\n'
        + "A: expect munmap(p, 4096) fails EINVAL\nA: expect p[4096] = 1 kills SIGSEGV\n",
    )
    messages = [(r.expect.ok, r.expect.message) for r in results[2:] if r.expect]
    assert messages == [
        (False, 'p[0:2] is "hi"'),
        (False, "succeeded (0); expected -1 EINVAL"),
        (False, "no signal; expected SIGSEGV"),
    ]


def test_fork_copies_the_variables_and_the_memory(machine: Any) -> None:
    """A child starts with its parent's names and, for a private mapping, its own copy."""
    results = run(
        machine,
        ANON + 'A: p[0:3] = "old"\nC = fork(A)\nC: p[0:3] = "new"\nA: p[0:3]\nC: p[0:3]\n',
    )
    assert [r.value for r in results[-2:]] == [b"old", b"new"]


def test_another_process_variable_by_name(machine: Any) -> None:
    """A.f reads process A's variable f in another process's line."""
    text = (
        'file /tmp/f "x"\n'
        'A: fd = open("/tmp/f", O_RDONLY)\nA: p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)\n'
        "A: p[0]\nA: f = frame(p)\n"
        'B: fd = open("/tmp/f", O_RDONLY)\nB: q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)\n'
        "B: q[0]\nB: expect frame(q) == A.f\n"
    )
    results = run(machine, text)
    assert isinstance(results[4].bindings[0][1], Frame)
    assert results[-1].expect is not None
    assert results[-1].expect.ok


def test_pipe_read_write_and_fstat(machine: Any) -> None:
    """The file calls work with C's names and Python's buffers."""
    results = run(
        machine,
        'A: r, w = pipe()\nA: write(w, "ping")\nA: read(r, 4)\n'
        'A: fd = open("/tmp/g", O_RDWR | O_CREAT, 0o600)\nA: pwrite(fd, "12345", 0)\n'
        "A: fstat(fd).st_size\n",
    )
    assert [r.value for r in results[1:3]] == [4, b"ping"]
    assert results[-1].value == 5


def test_show_views(machine: Any) -> None:
    """show prints the file, the variables and the page table of a range."""
    results = run(
        machine,
        'file /tmp/h "hello"\nshow file /tmp/h\n'
        + ANON
        + "A: p[0] = 1\nshow vars A\nshow pages A p, 8192\nshow smaps A p\n",
    )
    assert results[1].output == '/tmp/h (5 bytes): "hello"'
    assert results[4].output is not None
    assert results[4].output.startswith("p = 0x")
    pages = (results[5].output or "").splitlines()
    assert len(pages) == 2
    assert "present" in pages[0]
    assert pages[1].endswith("not present")
    smaps = (results[6].output or "").splitlines()
    assert smaps[1].split() == ["Size:", "8", "kB"]


def test_open_ended_store_and_labelled_show(machine: Any) -> None:
    """p[a:] = data stores all of data at p + a; 'A: show vars' shows A's names."""
    results = run(machine, ANON + 'A: p[2:] = "xyz"\nA: p[0:5]\nA: show vars\n')
    assert results[2].value == b"\0\0xyz"
    assert (results[3].output or "").startswith("p = 0x")


def test_memcpy_and_memset_are_loads_and_stores(machine: Any) -> None:
    """memcpy copies bytes within memory, memset fills them, as in C."""
    results = run(
        machine,
        ANON
        + 'A: p[0:3] = "abc"\nA: memcpy(p + 8, p, 3)\n'
        + "A: memset(p, 0x2a, 2)\nA: p[0:11]\n",
    )
    assert results[-1].value == b"**c\0\0\0\0\0abc"
