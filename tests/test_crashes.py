"""mmapsim's crash explorer: crash points, states, recovery, report (simulator only)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from helpers import PAGE, RW
from mmapsim import MAP_SHARED, O_RDONLY, Machine
from mmapsim.crashes.command import Options, explore, explore_file, load_scenario
from mmapsim.scenario.lang.diagnostic import ScenarioError

pytestmark = pytest.mark.simonly

EXAMPLES = Path(__file__).parent.parent / "examples" / "durability"
BROKEN = sorted(EXAMPLES.glob("*_broken.mmap"))

THREE_PAGES = """\
file /tmp/f "." * 12288
A: fd = open("/tmp/f", O_RDWR)
A: p = mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
A: p[0] = "a"
A: p[4096] = "b"
A: p[8192] = "c"
A: msync(p, 12288, MS_SYNC)
recover:
R: fd = open("/tmp/f", O_RDONLY)
R: q = mmap(NULL, 12288, PROT_READ, MAP_SHARED, fd, 0)
R: expect q[0] == "a" or q[0] == "."
"""


def _write(tmp_path: Path, text: str, name: str = "s.mmap") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _explore(path: str, **options: object):
    scenario, recovery = load_scenario(path)
    return explore(scenario, recovery, Options(**options))  # type: ignore[arg-type]


def _run(path: str, **kwargs: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    options = kwargs.pop("options", Options())
    status = explore_file(
        path, Console(file=out, width=200), Console(file=err, width=200), options, **kwargs
    )  # type: ignore[arg-type]
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("broken", BROKEN, ids=lambda p: p.stem)
def test_the_explorer_breaks_every_broken_example(broken):
    """Each *_broken.mmap has a crash state whose recovery check fails."""
    found = _explore(str(broken))
    assert found.failing
    assert not found.first.problems  # the first part itself runs as written


@pytest.mark.parametrize("broken", BROKEN, ids=lambda p: p.stem)
def test_the_correct_twin_of_every_broken_example_holds(broken):
    """Its correct twin survives every crash state."""
    correct = broken.with_name(broken.name.replace("_broken", ""))
    found = _explore(str(correct))
    assert found.plan.states
    assert not found.plan.sampled
    assert not found.broken


def test_there_are_at_least_three_pairs():
    """The examples hold at least three protocols, each correct and broken."""
    assert len(BROKEN) >= 3
    assert all(b.with_name(b.name.replace("_broken", "")).exists() for b in BROKEN)


def test_the_checksum_journal_survives_torn_pages_too(tmp_path):
    """--torn: sectors of a page reach the disk independently; the checksum still holds."""
    found = _explore(str(EXAMPLES / "journal_checksum.mmap"), torn=True)
    assert found.torn
    assert not found.broken


def test_three_dirty_pages_then_sync_give_8_states(tmp_path):
    """Hand count: 3 dirty pages at the point before sync, 2**3 disks; later points add none."""
    found = _explore(_write(tmp_path, THREE_PAGES))
    assert found.plan.distinct == 8
    assert not found.broken
    before_sync = [p for p in found.first.points if len(p.pieces) == 3]
    assert len(before_sync) == 1


def test_the_recovery_sees_exactly_the_crash_state(tmp_path):
    """Through a new mapping, recovery reads the state's disk: only its own check passes."""
    text = THREE_PAGES.replace(
        'R: expect q[0] == "a" or q[0] == "."',
        'R: expect q[0] == "." and q[4096] == "b" and q[8192] == "."',
    )
    found = _explore(_write(tmp_path, text))
    passing = [s for s, v in zip(found.plan.states, found.verdicts, strict=True) if not v]
    assert [[p.pgoff for p in s.reached] for s in passing] == [[1]]


def test_a_booted_machine_maps_the_state_byte_for_byte(tmp_path):
    """Each state's disk, mapped by a process of a machine booted on it, is that disk."""
    found = _explore(_write(tmp_path, THREE_PAGES))
    for state in found.plan.states:
        disk = state.image()
        with Machine.boot(disk) as m:
            p = m.spawn()
            a = p.mmap(0, 3 * PAGE, RW & ~2, MAP_SHARED, p.open("/tmp/f", O_RDONLY), 0)
            seen = p.load(a, 3 * PAGE)
        expected = bytearray(b"." * 3 * PAGE)
        for piece in state.reached:
            expected[piece.offset] = piece.data[0]
        assert seen == bytes(expected) == disk.read("/tmp/f")


def test_a_failing_state_is_reported_with_its_point_pages_and_check(tmp_path):
    """The report names the step, the pages that reached the disk and not, what was seen."""
    status, out, _ = _run(str(EXAMPLES / "commit_flag_broken.mmap"))
    assert status == 1
    assert 'power failure after line 20  W: db[0:6] = "COMMIT"' in out
    assert "on the disk:     /tmp/db page 0" in out
    assert "not on the disk: /tmp/db page 1" in out
    assert 'record is "....."' in out


def test_a_safe_protocol_exits_0(tmp_path):
    """No failing state: exit 0 and a ✓ line."""
    status, out, _ = _run(str(EXAMPLES / "commit_flag.mmap"))
    assert status == 0
    assert "✓ no crash state breaks the recovery's checks" in out


def test_a_scenario_without_recovery_is_a_mistake(tmp_path):
    """Nothing would check the states: exit 2 with file:line:col."""
    path = _write(tmp_path, 'file /tmp/f "x"\nA: fd = open("/tmp/f", O_RDWR)\n')
    status, out, err = _run(path)
    assert status == 2
    assert f"{path}:3:1: nothing checks the crash states" in err
    assert out == ""


def test_a_mistake_in_the_recovery_section_is_exit_2(tmp_path):
    """The recovery section is checked before anything runs, with its own names."""
    text = "A: x = 1\nrecover:\nR: expect x == 1\n"
    status, _, err = _run(_write(tmp_path, text))
    assert status == 2
    assert ":3:" in err
    assert "undefined variable 'x'" in err


def test_a_failing_expect_of_the_first_part_fails_the_run(tmp_path):
    """The first part's own expects count too."""
    text = 'file /tmp/f "x"\nexpect file("/tmp/f") == "y"\nrecover:\nR: x = 1\n'
    status, out, _ = _run(_write(tmp_path, text))
    assert status == 1
    assert "before any crash" in out


def test_a_death_in_recovery_is_a_failing_state(tmp_path):
    """An unannounced SIGBUS in the recovery (a file shorter than the mapping) fails its state."""
    text = (
        'A: fd = open("/tmp/f", O_RDWR | O_CREAT, 0o644)\n'
        "A: ftruncate(fd, 4096)\n"
        "recover:\n"
        'R: fd = open("/tmp/f", O_RDONLY)\n'
        "R: q = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0)\n"
        "R: x = q[4096]\n"
    )
    found = _explore(_write(tmp_path, text))
    assert found.failing
    (problem,) = found.failing[0][1]
    assert "killed by SIGBUS" in problem.message


def test_json_lists_the_failing_states(tmp_path):
    """--json: the counts and each failing state with its pieces and problems."""
    status, out, _ = _run(str(EXAMPLES / "two_page_record_broken.mmap"), as_json=True)
    report = json.loads(out)
    assert status == 1
    assert report["ok"] is False
    assert report["states"]["distinct"] == report["states"]["checked"]
    first = report["failing"][0]
    assert {p["page"] for p in first["reached"] + first["missed"]} == {1, 2}
    assert first["problems"][0]["line"] == 22


def test_the_budget_samples_and_says_so(tmp_path):
    """--max-states below the count: a seeded sample, and the report says how it was drawn."""
    status, out, _ = _run(_write(tmp_path, THREE_PAGES), options=Options(max_states=3, seed=5))
    assert status == 0
    assert "8 distinct crash states: 3 checked, drawn with seed 5 (--max-states 3" in out
    assert "none of the 3 crash states checked breaks" in out


def test_worker_processes_find_the_same_states(tmp_path):
    """--jobs 2 checks the states in two processes, with the same verdicts."""
    path = str(EXAMPLES / "journal_checksum_broken.mmap")
    one = _explore(path)
    two = _explore(path, jobs=2)
    assert one.verdicts == two.verdicts


def test_html_writes_the_page_of_a_failing_state(tmp_path):
    """--html: the first part, the power failure and the recovery on one page."""
    page = tmp_path / "state.html"
    status, _, err = _run(str(EXAMPLES / "commit_flag_broken.mmap"), html=str(page))
    assert status == 1
    assert f"wrote {page}" in err
    text = page.read_text()
    assert "power failure after line 20" in text
    assert "not on the disk: /tmp/db page 1" in text


def test_html_to_a_path_that_cannot_be_written_says_why_and_exits_2(tmp_path):
    """--html under a plain file: the report, then one line naming the path, exit 2."""
    blocker = tmp_path / "afile"
    blocker.write_text("")
    page = blocker / "state.html"
    status, out, err = _run(str(EXAMPLES / "commit_flag_broken.mmap"), html=str(page))
    assert status == 2
    assert "breaks the recovery's checks" in out
    assert f"cannot write {page}: {blocker}" in err


def test_load_refuses_an_empty_recovery_section(tmp_path):
    """'recover:' with nothing after it checks nothing."""
    with pytest.raises(ScenarioError, match="nothing checks"):
        load_scenario(_write(tmp_path, "A: x = 1\nrecover:\n# nothing\n"))


def test_the_command_line_runs_the_explorer():
    """mmapsim crashes FILE: the report on stdout, exit 1 for a broken protocol."""
    from click.testing import CliRunner

    from mmapsim.cli import main

    runner = CliRunner()
    broken = runner.invoke(main, ["crashes", str(EXAMPLES / "counter_broken.mmap")])
    assert broken.exit_code == 1
    assert "not on the disk: /tmp/counter page 0" in broken.output
    right = runner.invoke(main, ["crashes", "--torn", str(EXAMPLES / "counter.mmap")])
    assert right.exit_code == 0
    assert "512-byte sectors (--torn)" in right.output
    listed = runner.invoke(main, ["crashes", "--json", "-j", "2", str(EXAMPLES / "counter.mmap")])
    assert json.loads(listed.output)["ok"] is True


def test_the_command_line_refuses_a_budget_of_zero():
    """--max-states 0 is a usage error (exit 2), not an empty exploration."""
    from click.testing import CliRunner

    from mmapsim.cli import main

    result = CliRunner().invoke(main, ["crashes", "--max-states", "0", "x.mmap"])
    assert result.exit_code == 2
    assert "--max-states" in result.output


def test_run_stops_before_the_recovery_section():
    """mmapsim run runs the first part and says where the recovery section begins."""
    from click.testing import CliRunner

    from mmapsim.cli import main

    result = CliRunner().invoke(main, ["run", str(EXAMPLES / "commit_flag.mmap")])
    assert result.exit_code == 0
    assert "from line 21, the recovery section runs after a crash" in result.output
    assert "R: fd" not in result.output


ASYNC_THEN_WAIT = """\
file /tmp/c "0"
file /tmp/ack ""
C: fd = open("/tmp/c", O_RDWR)
C: n = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
C: log = open("/tmp/ack", O_WRONLY | O_APPEND)
C: n[0] = "1"
C: msync(n, 4096, MS_ASYNC)
sleep SECONDS
C: write(log, "r")
C: fsync(log)
recover:
R: fd = open("/tmp/c", O_RDONLY)
R: log = open("/tmp/ack", O_RDONLY)
R: expect fstat(log).st_size == 0 or pread(fd, 1, 0) == "1"
"""


@pytest.mark.parametrize(("seconds", "safe"), [(29, False), (30, True)])
def test_the_daemon_writes_on_schedule_inside_the_explorer(tmp_path, seconds, safe):
    """MS_ASYNC, then a receipt: safe only if the daemon (at 30 s) wrote the page first."""
    found = _explore(_write(tmp_path, ASYNC_THEN_WAIT.replace("SECONDS", str(seconds))))
    assert found.broken is not safe
    (slept,) = [r for r in found.first.results if r.step.source.startswith("sleep")]
    assert (slept.output == "at 30 s the writeback daemon wrote /tmp/c page 0 to disk") is safe


def test_a_crash_statement_in_the_first_part_leaves_only_the_disk(tmp_path):
    """After crash the page cache is gone: the later points have no dirty page."""
    text = (
        'file /tmp/f "."\n'
        'A: fd = open("/tmp/f", O_RDWR)\n'
        "A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)\n"
        'A: p[0] = "x"\n'
        "crash\n"
        "recover:\n"
        'R: fd = open("/tmp/f", O_RDONLY)\n'
        'R: expect pread(fd, 1, 0) == "."\n'
    )
    found = _explore(_write(tmp_path, text))
    assert found.first.points[-1].pieces == ()
    (state,) = found.failing  # the crash may still strike before it, with the page written
    assert [p.pgoff for p in state[0].reached] == [0]


def test_the_points_between_page_writes_are_tried_but_not_listed_again(tmp_path):
    """An msync of 3 pages makes 3 more crash points, none with a disk of its own."""
    found = _explore(_write(tmp_path, THREE_PAGES))
    assert found.first.moments == len(found.first.points) + 3
    assert found.plan.candidates == 1 + 2 + 4 + 8


def test_a_check_that_fails_even_without_a_crash_is_pointed_out(tmp_path):
    """When the fully written disk fails too, the report asks whether the check is right."""
    text = THREE_PAGES.replace('R: expect q[0] == "a" or q[0] == "."', 'R: expect q[0] == "z"')
    status, out, _ = _run(_write(tmp_path, text))
    assert status == 1
    assert "fails too: is the recovery section's check right?" in out
    status, out, _ = _run(str(EXAMPLES / "commit_flag_broken.mmap"))
    assert "is the recovery section's check right" not in out


def test_a_scenario_with_nothing_before_recover_is_a_mistake(tmp_path):
    """Nothing to crash: exit 2 at the recover: line."""
    status, _, err = _run(_write(tmp_path, "# nothing\nrecover:\nR: x = 1\n"))
    assert status == 2
    assert ":2:1: nothing to crash" in err


def test_show_limits_the_states_printed_in_full():
    """--show 1: one failing state in full, and how many more there are."""
    path = str(EXAMPLES / "journal_checksum_broken.mmap")
    status, out, _ = _run(path, options=Options(show=1))
    assert status == 1
    assert out.count("power failure") == 1
    assert "... and 2 more failing states (--show 0 or --json lists them all)" in out
    _, everything, _ = _run(path, options=Options(show=0))
    assert everything.count("power failure") == 3


def test_a_story_ending_in_crash_is_read_as_first_part_and_recovery(tmp_path):
    """Without recover:, the lines after the last crash are the recovery section."""
    text = (EXAMPLES / "commit_flag_broken.mmap").read_text().replace("recover:", "crash")
    path = _write(tmp_path, text)
    status, out, _ = _run(path)
    assert status == 1
    assert "not on the disk: /tmp/db page 1" in out
    right = (EXAMPLES / "commit_flag.mmap").read_text().replace("recover:", "crash")
    assert _run(_write(tmp_path, right, "right.mmap"))[0] == 0


def test_html_into_a_folder_writes_one_page_per_failing_state(tmp_path):
    """--html DIR: state-1.html, state-2.html, ... each with its own power failure."""
    folder = tmp_path / "pages"
    status, _, err = _run(str(EXAMPLES / "two_page_record_broken.mmap"), html=str(folder))
    assert status == 1
    pages = sorted(p.name for p in folder.iterdir())
    assert pages == ["state-1.html", "state-2.html"]
    assert "not on the disk: /tmp/rec page 2" in (folder / "state-1.html").read_text()
    assert "not on the disk: /tmp/rec page 1" in (folder / "state-2.html").read_text()
    assert err.count("wrote ") == 2
