"""A trace a student can read: scenario names, cause before effect, fork/exit/munmap, labels."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim.cli import main

KERNELS = [
    "sim",
    pytest.param(
        "host",
        marks=pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux"),
    ),
]
FORK = """\
file /tmp/f "hello"
Parent: fd = open("/tmp/f", O_RDWR)
Parent: v = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
Parent: a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
Parent: v[0]
Parent: a[0] = 1
Child = fork(Parent)
Child: a[0] = 2
Child: munmap(a, 4096)
Child: exit(0)
"""


def run(tmp_path: Path, text: str, *args: str) -> str:
    path = tmp_path / "t.mmap"
    path.write_text(text)
    result = CliRunner().invoke(main, ["run", *args, str(path)])
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def _events(out: str, line: int) -> list[str]:
    """The trace lines under step ``line``."""
    block = out.split(f"\n{line:>4}  ", 1)[1].split("\n")[1:]
    events = []
    for text in block:
        if text.startswith("          · "):
            events.append(text.removeprefix("          · "))
        elif not text.startswith("        "):
            break
    return events


def test_events_name_processes_as_the_scenario_does(tmp_path: Path) -> None:
    """Parent and Child, never pid 100."""
    out = run(tmp_path, FORK, "--trace")
    assert "pid " not in out
    assert "Parent: minor fault (read)" in out


def test_the_fault_comes_before_what_it_caused(tmp_path: Path) -> None:
    """A write fault, then the copy-on-write it caused; a fault, then the new frame."""
    out = run(tmp_path, FORK, "--trace")
    assert _events(out, 6)[:2] == [
        "Parent: minor fault (write) at 0x7ffff7ffd000",
        "Parent: new zeroed anonymous frame 0x1007 at 0x7ffff7ffd000",
    ]
    cow = _events(out, 8)
    assert cow[0].startswith("Child: minor fault (write)")
    assert cow[1].startswith("Child: copy-on-write at 0x7ffff7ffd000")


def test_fork_munmap_and_exit_say_what_they_did(tmp_path: Path) -> None:
    """fork: entries copied and write-protected, file entries left empty; munmap; exit."""
    out = run(tmp_path, FORK, "--trace")
    (fork,) = _events(out, 7)
    assert fork.startswith("Parent forked Child: ")
    assert "1 page of page table copied (1 page made read-only in both: copy-on-write)" in fork
    assert "the entries of 1 file mapping(s) are not copied" in fork
    munmap = _events(out, 9)
    assert munmap[0].startswith("Child: munmap of [0x7ffff7ffd000, 0x7ffff7ffe000) (1 page)")
    assert munmap[1].startswith("Child: page at 0x7ffff7ffd000")
    assert _events(out, 10)[0].startswith("Child exited: all ")


def test_execve_and_crash_say_what_they_removed(tmp_path: Path) -> None:
    """execve and a crash empty an address space, and say so."""
    exec_lines = 'file /tmp/prog program()\nChild: chmod("/tmp/prog", 0o755)\n'
    exec_lines += 'Child: execve("/tmp/prog")\ncrash\n'
    out = run(tmp_path, FORK.replace("Child: exit(0)\n", exec_lines), "--trace")
    assert _events(out, 12)[0].startswith("Child called execve: all ")
    crash = _events(out, 13)
    assert any(e.startswith("Parent died in the crash: all ") for e in crash)


@pytest.mark.parametrize("kernel", KERNELS)
def test_show_pages_says_what_each_page_is(tmp_path: Path, kernel: str) -> None:
    """A private file page not yet copied, a private copy, an anonymous page, a shared one."""
    text = FORK.split("Child = fork")[0] + (
        "show pages Parent v\n"
        "show pages Parent a\n"
        'Parent: v[0] = "y"\n'
        "show pages Parent v\n"
        "Parent: s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)\n"
        "Parent: s[0]\n"
        "show pages Parent s\n"
    )
    out = run(tmp_path, text, "--kernel", kernel)
    assert "private file page, not yet copied (the page cache's)" in out
    assert "anonymous page, this process only" in out
    assert "private copy (copy-on-write made it), this process only" in out
    assert "shared file page (the page cache's)" in out
