"""The mmapsim command, through click's CliRunner: exit statuses and output."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim import Machine
from mmapsim.cli import main
from mmapsim.scenario import Runner
from mmapsim.scenario.render import make_console
from mmapsim.scenario.run.batch import Output
from mmapsim.scenario.run.interactive import ScenarioShell

ROOT = Path(__file__).resolve().parent.parent
GOOD = """\
# A shared anonymous page, seen by a child.
A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
A: p[0:2] = "hi"
C = fork(A)
C: expect p[0:2] == "hi"
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A small scenario file whose expects hold."""
    path = tmp_path / "good.mmap"
    path.write_text(GOOD)
    return path


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run ``mmapsim ARGS``: exit status, standard output, standard error."""
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_run_prints_each_step_and_exits_0(scenario: Path) -> None:
    """run shows every step with its result; all expects held, so the status is 0."""
    code, out, _ = invoke("run", str(scenario))
    assert code == 0
    assert "# A shared anonymous page, seen by a child." in out
    assert '   5  C: expect p[0:2] == "hi"' in out
    assert "→ C is a new process, a copy of A" in out
    assert "4 steps, 1 expect: all hold" in out


def test_run_output_is_plain_when_piped(scenario: Path) -> None:
    """Without a terminal there are no colour codes; --color forces them."""
    assert "\x1b[" not in invoke("run", str(scenario))[1]
    assert "\x1b[" in invoke("run", "--color", str(scenario))[1]


def test_run_exits_1_when_an_expect_fails(tmp_path: Path) -> None:
    """A failed expect is shown with what was seen, and the status is 1."""
    path = tmp_path / "fail.mmap"
    path.write_text(GOOD.replace('== "hi"', '== "ho"'))
    code, out, _ = invoke("run", str(path))
    assert code == 1
    assert '✗ FAILED: p[0:2] is "hi"' in out
    assert "1 FAILED (line 5)" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A: p = mmpa(NULL, 1, 1, 1, -1, 0)\n", "bad.mmap:1:8: unknown call 'mmpa'"),
        ('A: fd = open("/tmp/x, O_RDONLY)\n', "bad.mmap:1:14: unterminated string"),
        ("A: x = 1\nA: munmap(y, 4096)\n", "bad.mmap:2:11: undefined variable 'y'"),
    ],
)
def test_run_exits_2_for_a_bad_scenario(tmp_path: Path, text: str, message: str) -> None:
    """A bad scenario gets file:line:col and status 2, never a traceback, and runs nothing."""
    path = tmp_path / "bad.mmap"
    path.write_text(text)
    code, out, err = invoke("run", str(path))
    assert code == 2
    assert err.strip().endswith(message.split(": ", 1)[1]) or message in err
    assert message.split(":")[1:3] == err.split(str(tmp_path) + "/bad.mmap:")[1].split(":")[:2]
    assert "Traceback" not in out + err
    assert out == ""


def test_run_reports_every_bad_file_and_runs_none(tmp_path: Path) -> None:
    """Each bad file gets its own file:line:col line; the good one between them never runs."""
    bad1, good, bad2 = tmp_path / "bad1.mmap", tmp_path / "good.mmap", tmp_path / "bad2.mmap"
    bad1.write_text("A: x = 1\nA: foo(\n")
    good.write_text("A: m = mmap(0, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n")
    bad2.write_text("A: munmap(1, 2, 3)\n")
    code, out, err = invoke("run", str(bad1), str(good), str(bad2))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad1}:2:")
    assert lines[1].startswith(f"{bad2}:1:")
    assert "mmap" not in out


def test_run_exits_2_for_a_missing_file(tmp_path: Path) -> None:
    """A file that cannot be read is a bad scenario too."""
    code, _, err = invoke("run", str(tmp_path / "none.mmap"))
    assert code == 2
    assert "cannot read the scenario" in err


def test_run_exits_2_when_a_step_cannot_run(tmp_path: Path) -> None:
    """A mistake found while running stops with its place and status 2."""
    path = tmp_path / "late.mmap"
    path.write_text(
        "A: p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)\n"
        'A: p[0:2] = "abc"\n'
    )
    code, _, err = invoke("run", str(path))
    assert code == 2
    assert "late.mmap:2:4: cannot store bytes into 2 bytes" in err


def test_run_json(scenario: Path) -> None:
    """--json gives the same facts to machines."""
    code, out, _ = invoke("run", "--json", str(scenario))
    assert code == 0
    report = json.loads(out)
    assert report["kernel"] == "sim"
    assert report["failed_expects"] == []
    steps = report["steps"]
    assert [s["line"] for s in steps] == [2, 3, 4, 5]
    assert steps[0]["bindings"]["p"] % 4096 == 0
    assert steps[3]["expect"] == {"ok": True, "message": 'p[0:2] == "hi"'}


def test_run_trace_shows_the_kernels_events(scenario: Path) -> None:
    """--trace lists faults and copies under each step on the simulator."""
    code, out, _ = invoke("run", "--trace", str(scenario))
    assert code == 0
    assert "· A: major fault (write)" in out  # the scenario's name, not a pid


def test_run_trace_on_the_real_kernel_says_there_is_none(scenario: Path) -> None:
    """The real kernel gives no trace, and run says so."""
    code, out, _ = invoke("run", "--kernel", "host", "--trace", str(scenario))
    assert code == 0
    assert "the real kernel gives no trace" in out


def test_diff_exits_0_when_the_kernels_agree(scenario: Path) -> None:
    """Addresses are compared relative to their mappings, so these runs agree."""
    code, out, _ = invoke("diff", str(scenario))
    assert code == 0, out
    assert "= p = mapping 1 + 0x0" in out
    assert "4 steps: the kernels agree" in out


def test_diff_exits_1_and_shows_both_sides_when_they_disagree(tmp_path: Path) -> None:
    """A file's time stamp differs between the two runs: diff shows both values."""
    path = tmp_path / "time.mmap"
    path.write_text('file /tmp/t "x"\nA: t = fstat(open("/tmp/t", O_RDONLY)).st_mtime_ns\n')
    code, out, _ = invoke("diff", str(path))
    assert code == 1
    assert "≠ simulated: t = " in out
    assert "  real:      t = " in out
    assert "the kernels disagree at line 2" in out


def test_shell_runs_lines_and_reports_mistakes() -> None:
    """The shell runs each line as it comes; a mistake is reported and the shell goes on."""
    lines = "A: p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)\n"
    lines += "A: munmap(q, 4096)\nA: expect p[0] == 0\nshow vars A\nquit\n"
    code, out, err = invoke("shell", stdin=lines)
    assert code == 2
    assert "→ p = 0x" in out
    assert "✓ p[0] == 0" in out
    assert "<shell>:2:11: undefined variable 'q'" in err


def test_shell_completes_calls_constants_and_names() -> None:
    """Tab completion offers calls, constants, processes and their variables."""
    output = Output(make_console(color=False), make_console(color=False))
    with Machine() as machine:
        shell = ScenarioShell(Runner(machine), output, io.StringIO())
        shell.default("A: pipe_fd = 3")
        assert shell.completedefault("PROT_R", "", 0, 0) == ["PROT_READ"]
        assert "munmap" in shell.completedefault("mu", "", 0, 0)
        assert shell.completedefault("pipe", "", 0, 0) == ["pipe", "pipe_fd"]
        assert "A:" in shell.completenames("A")


def test_tour_lists_its_slides() -> None:
    """tour --list names the eight slides of the lecture."""
    code, out, _ = invoke("tour", "--list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 8
    assert lines[0] == " 1  Memory-mapped files"


def test_tour_runs_every_slide_quickly() -> None:
    """The whole tour runs on the simulator, every expect holding, in well under 10 s."""
    start = time.monotonic()
    code, out, _ = invoke("tour")
    assert time.monotonic() - start < 10
    assert code == 0
    assert out.count(": all hold") == 8
    assert "Slide 8 of 8" in out


def test_tour_rejects_an_unknown_slide() -> None:
    """Asking for slide 99 is a mistake, status 2."""
    code, _, err = invoke("tour", "--slide", "99")
    assert code == 2
    assert "there is no slide 99" in err


SHOWS = """\
# Class 21 of the second fidelity round: a shared anonymous page read, then written.
A: s = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
A: s[0]
A: s[0:1] = "w"
show smaps A s
show smaps A
show maps A
show pages A s
"""


def test_diff_compares_what_show_prints(tmp_path: Path) -> None:
    """maps, smaps and pages are compared over the scenario's own mappings, with
    relative addresses: the counters of the written page are there on both sides."""
    path = tmp_path / "shows.mmap"
    path.write_text(SHOWS)
    code, out, _ = invoke("diff", str(path))
    assert code == 0, out
    assert "Private_Dirty: 4 kB" in out
    assert "mapping 1 + 0x0 .. mapping 1 + 0x1fff rw-s 00000000 /dev/zero (deleted)" in out
    assert "mapping 1 + 0x1000  not present" in out
    assert "is not compared" not in out


def test_diff_json_says_per_step_what_each_kernel_saw(tmp_path: Path) -> None:
    path = tmp_path / "shows.mmap"
    path.write_text(SHOWS)
    code, out, _ = invoke("diff", "--json", str(path))
    report = json.loads(out)
    assert code == 0
    assert report["agree"] is True
    assert [s["line"] for s in report["steps"]] == [2, 3, 4, 5, 6, 7, 8]
    smaps = report["steps"][3]
    assert smaps["same"] is True
    assert "Private_Dirty: 4 kB" in smaps["simulated"]


def test_a_show_that_differs_is_a_disagreement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A simulator whose smaps calls the written page clean (as it once did) does
    not agree with Linux, though every call returned the same."""
    import mmapsim.process
    from mmapsim.mm.proc_maps import render_smaps

    def old_smaps(mm: object, pkeys: bool = False) -> str:
        text = render_smaps(mm, pkeys)  # type: ignore[arg-type]
        text = text.replace("Private_Clean:         0 kB", "Private_Clean:         8 kB")
        return text.replace("Private_Dirty:         4 kB", "Private_Dirty:         0 kB")

    monkeypatch.setattr(mmapsim.process, "render_smaps", old_smaps)
    path = tmp_path / "shows.mmap"
    path.write_text(SHOWS)
    code, out, _ = invoke("diff", str(path))
    assert code == 1
    assert "the kernels disagree at line 5, 6" in out


def test_diff_compares_show_frame_and_show_cache(tmp_path: Path) -> None:
    """A frame is named by its order of appearance and its mappers' addresses are
    relative; the page cache view is compared but for the disk under a dirty page."""
    path = tmp_path / "frames.mmap"
    path.write_text(
        'file /tmp/c "hello, cache"\n'
        'A: fd = open("/tmp/c", O_RDWR)\n'
        "A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)\n"
        'A: p[0:2] = "HE"\n'
        "show frame A p\n"
        "show cache /tmp/c\n"
        "show maps A\n"
    )
    code, out, _ = invoke("diff", str(path))
    assert code == 0, out
    assert "frame #1, behind A's page mapping 1 + 0x0" in out
    assert "mapped by: A at mapping 1 + 0x0" in out
    assert 'page 0  dirty       cache: "HEllo, cache"' in out
