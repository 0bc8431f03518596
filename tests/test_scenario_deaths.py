"""Deaths by signal: an unannounced one fails the run; later lines of the dead are skipped."""

from __future__ import annotations

import json
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

DEATH = """\
file /tmp/f "hi"
A: fd = open("/tmp/f", O_RDONLY)
A: p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0)
B: q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
A: p[4096]
A: p[0]
C = fork(A)
C: p[0]
B: q[0] = "x"
B: expect q[0] == "x"
"""


def run(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "death.mmap"
    path.write_text(text)
    result = CliRunner().invoke(main, ["run", *args, str(path)])
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("kernel", KERNELS)
def test_an_unannounced_death_fails_the_run_with_its_reason(tmp_path: Path, kernel: str) -> None:
    """SIGBUS beyond the end of the file: exit 1, the reason shown without --trace."""
    code, out, err = run(tmp_path, DEATH, "--kernel", kernel)
    assert code == 1, out + err
    assert "✗ A killed by SIGBUS at 0x" in out
    assert "beyond the end of the" in out
    assert "A killed by SIGBUS at line 5" in out.splitlines()[-2]


@pytest.mark.parametrize("kernel", KERNELS)
def test_later_lines_of_the_dead_are_skipped_and_the_others_go_on(
    tmp_path: Path, kernel: str
) -> None:
    """A's later line and a fork of A are skipped, naming line 5; B runs on."""
    code, out, _ = run(tmp_path, DEATH, "--kernel", kernel)
    assert code == 1
    assert out.count("– skipped: A was killed by SIGBUS at line 5") == 2  # A: p[0], the fork
    assert "– skipped: C was never made (A was killed by SIGBUS at line 5)" in out
    assert '✓ q[0] == "x"' in out
    assert "3 skipped" in out


def test_an_announced_death_passes(tmp_path: Path) -> None:
    """The same death inside ``expect ... kills SIGBUS`` holds: exit 0."""
    text = DEATH.replace("A: p[4096]", "A: expect p[4096] kills SIGBUS")
    code, out, _ = run(tmp_path, text)
    assert code == 0, out
    assert "2 expects: all hold, 3 skipped" in out


def test_a_skipped_expect_fails_the_run(tmp_path: Path) -> None:
    """An expect of a dead process was never checked, so it cannot count as held."""
    text = DEATH.replace("A: p[4096]", "A: expect p[4096] kills SIGBUS") + "A: expect p[0] == 1\n"
    code, out, _ = run(tmp_path, text)
    assert code == 1
    assert "1 FAILED (line 11)" in out


def test_json_names_the_death_and_the_skips(tmp_path: Path) -> None:
    """--json carries the reason, whether it was expected, and each skip."""
    code, out, _ = run(tmp_path, DEATH, "--json")
    report = json.loads(out)
    assert code == 1
    assert report["ok"] is False
    assert report["unexpected_deaths"] == [5]
    death = report["steps"][4]["killed"]
    assert (death["signal"], death["expected"]) == ("SIGBUS", False)
    assert death["reason"] == "page wholly beyond the end of the file"
    assert report["steps"][5]["skipped"] == "A was killed by SIGBUS at line 5"


def test_the_step_through_page_marks_an_unannounced_death_failed(tmp_path: Path) -> None:
    """The page's record of the run fails the step of the death, as run's status does."""
    from mmapsim.viz.record import record_file

    path = tmp_path / "death.mmap"
    path.write_text(DEATH)
    failed = [step.line for step in record_file(str(path)).steps if step.failed]
    assert failed == [5]
