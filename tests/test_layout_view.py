"""The layout view: a process's address space drawn like the lecture's figure."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim import Machine
from mmapsim.cli import main
from mmapsim.scenario.render import make_console
from mmapsim.scenario.run.batch import Output, run_files
from mmapsim.views.regions import (
    BSS,
    DATA,
    HEAP,
    MAPPINGS,
    STACK,
    TEXT,
    Band,
    Gap,
    layout_of,
)
from mmapsim.views.regions_draw import draw_layout, human_size, lines_for, to_ascii

PROT_RW, MAP_PRIVATE_ANON = 0x3, 0x22

SCENARIO = """\
# Two mappings, drawn
file /tmp/data "some data"
A: p = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
A: fd = open("/tmp/data", O_RDONLY)
A: q = mmap(NULL, 8 * 4096, PROT_READ, MAP_PRIVATE, fd, 0)
show layout A
"""

#: A real process's maps, shortened: a program, libraries, a hole, a huge mapping.
HOST_MAPS = """\
555555554000-555555555000 r--p 00000000 fe:00 11 /usr/bin/python3
555555555000-555555556000 r-xp 00001000 fe:00 11 /usr/bin/python3
555555556000-555555557000 r--p 00002000 fe:00 11 /usr/bin/python3
555555557000-555555558000 r--p 00002000 fe:00 11 /usr/bin/python3
555555558000-555555559000 rw-p 00003000 fe:00 11 /usr/bin/python3
555555559000-55555555b000 rw-p 00000000 00:00 0
555556000000-555556400000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f4000000000 rw-p 00000000 00:00 0
7f4000000000-7f4000001000 rw-s 00000000 00:01 5 /dev/zero (deleted)
7f4000002000-7f4000003000 r--p 00000000 fe:00 20 /usr/lib/libm.so.6
7f4000003000-7f4000005000 r-xp 00001000 fe:00 20 /usr/lib/libm.so.6
7f4000005000-7f4000006000 rw-p 00003000 fe:00 20 /usr/lib/libm.so.6
7f4000006000-7f4000008000 r--p 00000000 fe:00 21 /usr/lib/libc.so.6
7f4000008000-7f4000010000 r-xp 00002000 fe:00 21 /usr/lib/libc.so.6
7f4000010000-7f4000011000 rw-p 0000a000 fe:00 21 /usr/lib/libc.so.6
7f4000011000-7f4000013000 rw-p 00000000 00:00 0
7f4000013000-7f4000015000 r-xp 00000000 00:00 0 [vdso]
7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
"""


def spawned_maps() -> tuple[str, int]:
    """The maps of a new simulated process after one anonymous mmap, and its address."""
    with Machine() as machine:
        process = machine.spawn("A")
        p = process.mmap(0, 8 * 4096, PROT_RW, MAP_PRIVATE_ANON, -1, 0)
        return process.maps(), p


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``mmapsim ARGS``: exit status, standard output, standard error."""
    result = CliRunner().invoke(main, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A scenario with two mappings and a ``show layout``."""
    path = tmp_path / "two.mmap"
    path.write_text(SCENARIO)
    return path


# -- the regions --------------------------------------------------------------


def test_a_spawned_process_has_the_figures_regions_in_order() -> None:
    """From the top: stack, a gap, the mappings, a gap, heap, data and bss, text."""
    maps, _ = spawned_maps()
    roles = [s.role for s in layout_of(maps) if isinstance(s, Band)]
    assert roles[:3] == [STACK, MAPPINGS, HEAP]
    assert roles[3:] == [f"{DATA}, {BSS}", "read-only data", TEXT, "read-only data"]


def test_the_drawing_puts_high_addresses_at_the_top() -> None:
    """Stack above mappings above heap above data above text, each boxed and sized."""
    maps, p = spawned_maps()
    drawing = draw_layout(maps, {"p": p})
    where = [drawing.index(word) for word in ("[stack]", "anonymous", "[heap]", "data", "text")]
    assert where == sorted(where)
    assert "│ [stack]                            132 KiB  rw-p │ stack" in drawing
    assert "32 KiB  rw-p │ memory mappings  ← p" in drawing
    assert "┌──" in drawing
    assert "└──" in drawing
    assert "┘ 0x7ffffffff000" not in drawing
    assert "┐ 0x7ffffffff000" in drawing


def test_huge_gaps_are_breaks_with_their_size_and_arrows() -> None:
    """The space between stack and mappings, mappings and heap, is a marked break."""
    drawing = draw_layout(spawned_maps()[0])
    assert "≈ 127.9 MiB unmapped ≈" in drawing
    assert "≈ 42.7 TiB unmapped ≈" in drawing
    lines = drawing.splitlines()
    down = lines.index("              ↓ the mappings grow down")
    assert "42.7 TiB" in lines[down + 1]
    assert lines[down + 2].strip() == "↑ the heap grows up"
    assert "↓ the stack grows down" in drawing
    assert lines[-2].endswith("0x000000000000  address 0")


def test_a_small_hole_is_drawn_inside_the_box() -> None:
    """A page unmapped between two mappings shows as a dotted part of the column."""
    with Machine() as machine:
        process = machine.spawn("A")
        p = process.mmap(0, 8 * 4096, PROT_RW, MAP_PRIVATE_ANON, -1, 0)
        process.munmap(p + 4096, 4096)
        drawing = draw_layout(process.maps())
    assert "┆                  4 KiB unmapped                  ┆" in drawing
    assert drawing.count("memory mappings") == 1


def test_sizes_are_exact_when_whole() -> None:
    """Sizes read as people write them."""
    assert [human_size(n) for n in (4096, 135168, 1 << 40)] == ["4 KiB", "132 KiB", "1 TiB"]
    assert human_size(0x7FDF000) == "127.9 MiB"


def test_heights_follow_the_log_of_the_size() -> None:
    """One line for a page, one more for each eight times the size."""
    assert [lines_for(4096 * 8**k) for k in range(5)] == [1, 2, 3, 4, 5]
    assert lines_for(7 * 4096) == 1


# -- condensing a real process ------------------------------------------------


def test_mappings_of_one_file_and_runs_of_libraries_are_condensed() -> None:
    """Adjacent lines of one file are one band with a count; adjacent libraries, one band."""
    bands = [s for s in layout_of(HOST_MAPS) if isinstance(s, Band)]
    libraries = next(b for b in bands if b.label == "3 shared libraries")
    assert libraries.detail == "libm, libc, [vdso]"
    assert libraries.count == 8  # three lines of each library, libc's bss, the vDSO
    rodata = [b for b in bands if b.label == "/usr/bin/python3" and b.count == 2]
    assert rodata[0].perms == "r--p"
    roles = [b.role for b in bands]
    assert roles[roles.index(HEAP) + 1 :] == [BSS, DATA, "read-only data", TEXT, "read-only data"]


def test_a_band_too_large_for_the_scale_is_marked() -> None:
    """A 256 GiB mapping takes the tallest height and a ≈ on its sides."""
    drawing = draw_layout(HOST_MAPS)
    assert "│ anonymous                          256 GiB  rw-p │" in drawing
    assert "≈                                                  ≈" in drawing
    assert "not user space" in drawing
    assert "0xffffffffff601000" in drawing


def test_gaps_carry_the_arrows_of_what_grows_into_them() -> None:
    """Below the stack the stack grows down; between mappings and heap, both meet."""
    gaps = [s for s in layout_of(HOST_MAPS) if isinstance(s, Gap)]
    assert [g.above for g in gaps if g.above] == [
        "↓ the stack grows down",
        "↓ the mappings grow down",
    ]
    assert [g.below for g in gaps if g.below] == ["↑ the heap grows up"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs the Linux kernel")
def test_a_host_process_is_drawn_and_condensed() -> None:
    """A real worker (a Python interpreter) fits in far fewer lines than its maps."""
    from mmapsim.host import HostMachine

    with HostMachine() as machine:
        process = machine.spawn("A")
        p = process.mmap(0, 8 * 4096, PROT_RW, MAP_PRIVATE_ANON, -1, 0)
        maps = process.maps()
        drawing = draw_layout(maps, {"p": p})
    bands = [s for s in layout_of(maps) if isinstance(s, Band)]
    assert len(bands) < len(maps.splitlines()) / 2
    assert "shared libraries" in drawing
    assert "[heap]" in drawing
    assert "[stack]" in drawing
    assert "← p" in drawing
    assert "text" in drawing


# -- ASCII --------------------------------------------------------------------


def test_the_ascii_drawing_is_the_same_picture_in_ascii() -> None:
    """Every character is ASCII and every line keeps its length."""
    drawing = draw_layout(HOST_MAPS, {"p": 0x7F0000001000})
    plain = to_ascii(drawing)
    assert plain.isascii()
    assert [len(line) for line in plain.splitlines()] == [
        len(line) for line in drawing.splitlines()
    ]
    assert "+-----" in plain
    assert "| [stack]" in plain
    assert "< p" in plain


def test_an_output_that_cannot_show_unicode_gets_ascii(scenario: Path) -> None:
    """run prints show layout in ASCII to an output whose encoding is not UTF-8."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="replace")
    output = Output(make_console(color=False, file=stream), make_console(color=False))
    run_files([str(scenario)], output, kernel="sim", trace=False, as_json=False)
    stream.flush()
    text = raw.getvalue().decode("ascii")
    assert "+--------------------------------------------------+ 0x7ffffffff000" in text
    assert "| /tmp/data" in text


# -- in a scenario and on the command line ------------------------------------


def test_show_layout_in_a_scenario_draws_with_its_variables(scenario: Path) -> None:
    """show layout A prints the picture under the step, pointers marked."""
    code, out, err = invoke("run", str(scenario))
    assert (code, err) == (0, "")
    assert "   6  show layout A" in out
    assert "          │ /tmp/data                           32 KiB  r--p │ ← q" in out
    assert "memory mappings  ← p" in out


def test_layout_command_draws_every_process(tmp_path: Path) -> None:
    """mmapsim layout runs the file and draws each process at its end."""
    path = tmp_path / "fork.mmap"
    path.write_text(SCENARIO + "B = fork(A)\nC:\nC: exit(0)\n")
    code, out, _ = invoke("layout", str(path))
    assert code == 0
    assert "== A (pid" in out
    assert "== B (pid" in out
    assert "== C exited at line " in out
    assert ": no address space to draw ==" in out
    assert out.count("┐ 0x7ffffffff000") == 2
    assert "show layout" not in out


def test_layout_command_draws_one_process_in_ascii(scenario: Path) -> None:
    """--process picks one process; --ascii draws without Unicode."""
    code, out, _ = invoke("layout", str(scenario), "--process", "A", "--ascii")
    assert code == 0
    assert out.isascii()
    assert "| [heap]" in out


def test_layout_command_exits_1_when_an_expect_fails(tmp_path: Path) -> None:
    """The picture is still drawn, and the status says an expect failed."""
    path = tmp_path / "fails.mmap"
    path.write_text(SCENARIO + "A: expect q > p\n")
    code, out, _ = invoke("layout", str(path))
    assert code == 1
    assert "[stack]" in out
    assert "FAILED" in out


def test_layout_command_exits_2_for_an_unknown_process(scenario: Path) -> None:
    """--process names a process of the scenario, or nothing is drawn."""
    code, out, err = invoke("layout", str(scenario), "--process", "Z")
    assert code == 2
    assert out == ""
    assert f"{scenario}: no process Z (its processes: A)" in err


@pytest.mark.parametrize("command", ["run", "layout"])
def test_show_layout_of_an_unknown_process_is_a_mistake(tmp_path: Path, command: str) -> None:
    """show layout Z, with no process Z, is reported as file:line:col before anything runs."""
    path = tmp_path / "bad.mmap"
    path.write_text(SCENARIO + "show layout Z\n")
    code, out, err = invoke(command, str(path))
    assert code == 2
    assert out == ""
    assert f"{path}:7:13: unknown process Z" in err


def test_show_layout_takes_no_address(tmp_path: Path) -> None:
    """The whole space is drawn, so an address after show layout is a mistake."""
    path = tmp_path / "bad.mmap"
    path.write_text(SCENARIO + "show layout A p\n")
    code, _, err = invoke("run", str(path))
    assert code == 2
    assert f"{path}:7:15: show layout draws the whole address space" in err


def test_a_bad_scenario_file_exits_2(tmp_path: Path) -> None:
    """A mistake in the file stops mmapsim layout with status 2."""
    path = tmp_path / "bad.mmap"
    path.write_text("A: p = mmpa(NULL, 4096, 1, 2, -1, 0)\n")
    code, _, err = invoke("layout", str(path))
    assert code == 2
    assert "1:8: unknown call 'mmpa'" in err
