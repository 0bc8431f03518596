"""Every example scenario: its stored output on the simulator, its expects on both kernels.

The golden files under ``tests/golden/`` are the plain output of
``mmapsim run --kernel sim``; after a deliberate change, regenerate them with

    MMAPSIM_REGEN_GOLDEN=1 python -m pytest tests/test_scenario_examples.py

and review the diff.  On the real kernel addresses differ from run to run, so
there only the exit status is checked: every ``expect`` holds.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from mmapsim.scenario.render import make_console
from mmapsim.scenario.run.batch import Output, run_files

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.relative_to(ROOT) for p in (ROOT / "examples").rglob("*.mmap"))
GOLDEN = ROOT / "tests" / "golden"
TOUR = ROOT / "src" / "mmapsim" / "tour"
REGENERATE = os.environ.get("MMAPSIM_REGEN_GOLDEN") == "1"


def run_example(path: Path, kernel: str) -> tuple[int, str, str]:
    """Run one example as ``mmapsim run`` does: exit status, output, errors."""
    out, err = io.StringIO(), io.StringIO()
    output = Output(make_console(color=False, file=out), make_console(color=False, file=err))
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = run_files([str(path)], output, kernel=kernel, trace=False, as_json=False)
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


def golden_path(example: Path) -> Path:
    return GOLDEN / example.relative_to("examples").with_suffix(".out")


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_example_output_matches_its_golden_file(example: Path) -> None:
    """On the simulator an example prints exactly its stored output, every expect holding."""
    code, out, err = run_example(example, "sim")
    assert (code, err) == (0, ""), out + err
    stored = golden_path(example)
    if REGENERATE:
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_text(out, encoding="utf-8")
    assert stored.read_text(encoding="utf-8") == out


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_example_expects_hold_on_the_real_kernel(example: Path) -> None:
    """On the real kernel every expect of an example holds too.

    An example may say why it cannot run there, on a line ``# simulator only: WHY``.
    """
    pytest.importorskip("mmapsim.host")
    text = (ROOT / example).read_text(encoding="utf-8")
    why = re.search(r"^# simulator only: (.+)$", text, re.MULTILINE)
    if why is not None:
        pytest.skip(why.group(1))
    code, out, err = run_example(example, "host")
    if _crashes(example):  # a power failure is the simulator's alone: refused up front
        assert code == 2
        assert "crash needs the simulator (--kernel sim)" in err
        assert "   1  " not in out
        return
    assert (code, err) == (0, ""), out + err


def _crashes(example: Path) -> bool:
    """Whether the example has a ``crash`` line."""
    text = (ROOT / example).read_text(encoding="utf-8")
    return any(line.split("#")[0].strip() == "crash" for line in text.splitlines())


def test_there_are_enough_examples() -> None:
    """The examples cover the slides, the textbook programs and the surprises."""
    groups = {path.parent.name for path in EXAMPLES}
    assert groups >= {"lecture", "textbook", "surprises", "durability", "ipc"}
    assert len(EXAMPLES) >= 12


def test_lecture_examples_are_the_tour() -> None:
    """examples/lecture holds the tour's scenarios, byte for byte."""
    tour = {p.name: p.read_text(encoding="utf-8") for p in TOUR.glob("*.mmap")}
    lecture = {
        p.name: p.read_text(encoding="utf-8")
        for p in (ROOT / "examples" / "lecture").glob("*.mmap")
    }
    assert tour == lecture
    assert len(tour) == 8  # one per slide of the lecture


def test_every_golden_file_has_its_example() -> None:
    """No golden file is left over from an example that was renamed or removed."""
    expected = {golden_path(example) for example in EXAMPLES}
    assert set(GOLDEN.rglob("*.out")) == expected


IPC_EXAMPLES = [e for e in EXAMPLES if e.parent.name == "ipc"]


@pytest.mark.parametrize("example", IPC_EXAMPLES, ids=str)
def test_the_kernels_agree_on_the_ipc_examples(example: Path) -> None:
    """mmapsim diff: both kernels observe the same at every step of the IPC examples."""
    pytest.importorskip("mmapsim.host")
    from mmapsim.scenario.run.batch import diff_files

    out, err = io.StringIO(), io.StringIO()
    output = Output(make_console(color=False, file=out), make_console(color=False, file=err))
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = diff_files([str(example)], output)
    finally:
        os.chdir(cwd)
    assert code == 0, out.getvalue() + err.getvalue()
    assert "the kernels agree" in out.getvalue()
