"""The visualizer's data: the picture of a machine, its deltas, and the pages built from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim import (
    MAP_ANONYMOUS,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MAP_SHARED,
    MS_SYNC,
    O_RDWR,
    PROT_READ,
    PROT_WRITE,
    Machine,
)
from mmapsim.cli import main
from mmapsim.machine import Machine as SimMachine
from mmapsim.scenario.lang.checker import check_scenario
from mmapsim.scenario.lang.parser import parse_file, parse_text
from mmapsim.scenario.lang.syntax import Scenario
from mmapsim.viz import page_data, record, record_file, render_page, snapshot
from mmapsim.viz.contents import encode_rows, frame_bytes
from mmapsim.viz.record import typed_stores
from mmapsim.viz.tracker import Tracker
from viz_helpers import big_scenario

pytestmark = pytest.mark.simonly

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*/*.mmap"))
RW = PROT_READ | PROT_WRITE


def _vma_at(state: dict, pid: int, va: int) -> dict:
    proc = next(p for p in state["procs"] if p["pid"] == pid)
    return next(v for v in proc["vmas"] if v["start"] <= va < v["end"])


def _page(state: dict, pid: int, va: int) -> list:
    vma = _vma_at(state, pid, va)
    index = (va - vma["start"]) // 4096
    return next(p for p in vma["pages"] if p[0] == index)


def _frame(state: dict, pfn: int) -> dict:
    return next(f for f in state["frames"] if f["pfn"] == pfn)


def test_a_huge_sparse_mapping_lists_only_its_present_pages(sim: Machine) -> None:
    """A 64 TiB mapping with two touched pages is two page entries, not billions."""
    p = sim.spawn("A")
    va = p.mmap(None, 64 << 40, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
    p.store(va, b"x")
    p.store(va + (1 << 40), b"y")
    state = snapshot(sim)
    vma = _vma_at(state, p.pid, va)
    assert [page[0] for page in vma["pages"]] == [0, (1 << 40) // 4096]
    assert len(json.dumps(state)) < 40_000


def test_each_mapping_kind_is_named_and_the_program_is_told_apart(sim: Machine) -> None:
    """The four kinds get their names; the program's own regions are marked for folding."""
    sim.write_file("/tmp/f", b"data")
    p = sim.spawn("A")
    fd = p.open("/tmp/f", O_RDWR)
    made = {
        "shared-file": p.mmap(None, 4096, RW, MAP_SHARED, fd),
        "private-file": p.mmap(None, 4096, RW, MAP_PRIVATE, fd),
        "shared-anon": p.mmap(None, 4096, RW, MAP_SHARED | MAP_ANONYMOUS),
        "private-anon": p.mmap(None, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS),
    }
    state = snapshot(sim)
    for kind, va in made.items():
        vma = _vma_at(state, p.pid, va)
        assert vma["kind"] == kind
        assert vma["program"] is False
        assert vma["maps"].split()[0] == f"{va:x}-{va + 4096:x}"
    program = [v for v in state["procs"][0]["vmas"] if v["program"]]
    assert {v["role"] for v in program} == {"text", "rodata", "data", "heap", "stack"}
    assert len(program) == 6


def test_after_copy_on_write_both_private_copies_hold_their_own_bytes(sim: Machine) -> None:
    """After fork and the child's write, each frame's bytes are what its process sees."""
    parent = sim.spawn("P")
    va = parent.mmap(None, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    parent.store(va + 16, b"fast")
    child = parent.fork()
    state = snapshot(sim)
    before = _page(state, parent.pid, va)
    assert before[2] == "cow"
    assert _page(state, child.pid, va) == before
    assert sorted(u[0] for u in _frame(state, before[1])["users"]) == [parent.pid, child.pid]
    child.store(va + 16, b"slow")
    state = snapshot(sim)
    mine, theirs = _page(state, child.pid, va), _page(state, parent.pid, va)
    assert mine[1] != theirs[1]
    assert frame_bytes(_frame(state, mine[1])["rows"])[16:20] == b"slow"
    assert frame_bytes(_frame(state, theirs[1])["rows"])[16:20] == b"fast"
    assert _frame(state, mine[1])["users"] == [[child.pid, va]]


def test_msync_cleans_the_dirty_file_page(sim: Machine) -> None:
    """A store dirties the cached page beside unchanged disk bytes; MS_SYNC cleans it."""
    sim.write_file("/tmp/f", b"hello")
    p = sim.spawn("A")
    va = p.mmap(None, 4096, RW, MAP_SHARED, p.open("/tmp/f", O_RDWR))
    p.store(va, b"HELLO")
    state = snapshot(sim)
    row = next(f for f in state["files"] if f["path"] == "/tmp/f")["pages"][0]
    assert row["dirty"] is True
    assert frame_bytes(row["disk"])[:5] == b"hello"
    assert frame_bytes(_frame(state, row["pfn"])["rows"])[:5] == b"HELLO"
    p.msync(va, 4096, MS_SYNC)
    state = snapshot(sim)
    row = next(f for f in state["files"] if f["path"] == "/tmp/f")["pages"][0]
    assert row["dirty"] is False
    assert frame_bytes(row["disk"])[:5] == b"HELLO"


def test_frames_say_what_holds_them(sim: Machine) -> None:
    """Frames are page cache (file and offset), anonymous, or the zero frame."""
    sim.write_file("/tmp/f", b"abc")
    p = sim.spawn("A")
    shared = p.mmap(None, 4096, PROT_READ, MAP_SHARED, p.open("/tmp/f", O_RDWR))
    anon = p.mmap(None, 8192, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    p.load(shared, 1)
    p.load(anon, 1)
    p.store(anon + 4096, b"z")
    state = snapshot(sim)
    assert _frame(state, _page(state, p.pid, shared)[1])["file"] == "/tmp/f"
    zero = _frame(state, _page(state, p.pid, anon)[1])
    assert zero["owner"] == "zero"
    assert zero["users"] == [[p.pid, anon]]
    assert _frame(state, _page(state, p.pid, anon + 4096)[1])["owner"] == "anon"


def test_rows_fold_zeros_and_repeats() -> None:
    """Zero pages cost nothing, a filled page one row, and the bytes come back exactly."""
    assert encode_rows(bytes(4096)) == ([], 0)
    assert encode_rows(b"A" * 4096) == ([[0, "41" * 16, 256]], 0)
    page = bytearray(4096)
    page[100:105] = b"hello"
    page[4000:4002] = b"\x01\x02"
    rows, cut = encode_rows(page)
    assert cut == 0
    assert [r[0] for r in rows] == [96, 4000]
    assert frame_bytes(rows) == bytes(page)


def test_typed_stores_are_shown_as_integers() -> None:
    """A store through p.int or p.u64 marks its frame's bytes as that integer."""
    assert typed_stores("p.int[0] = 101", [(0x1000, 4)]) == [(0x1000, 4, True)]
    assert typed_stores("p.u64[2] = 7", [(0x1010, 8)]) == [(0x1010, 8, False)]
    assert typed_stores('p[0:4] = "abcd"', [(0x1000, 4)]) == []
    scenario = parse_text(
        "A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)\n"
        "A: p.int[1] = 101\nA: p.u64[1] = 7\n",
        "typed.mmap",
    )
    recording = record(scenario)
    frames = [f for step in recording.steps for f in step.delta.get("frames", [])]
    last = [f for f in frames if f.get("ints")][-1]
    assert last["ints"] == [[4, 4, 1], [8, 8, 0]]
    data = frame_bytes(last["rows"])
    assert int.from_bytes(data[4:8], "little") == 101
    assert int.from_bytes(data[8:16], "little") == 7


def _tables(tracker: Tracker) -> tuple[object, ...]:
    return (tracker.order, tracker.heads, tracker.pages, tracker.frames, tracker.files)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_deltas_replay_to_the_whole_picture(path: Path) -> None:
    """After every step, the tracker kept by deltas equals a fresh picture of the machine,
    and replaying the recorded deltas gives the same pages and frames."""

    def check(machine: SimMachine, tracker: Tracker, names: dict[int, str]) -> None:
        fresh = Tracker(machine)
        fresh.typed = tracker.typed
        fresh.update(names)
        assert _tables(tracker) == _tables(fresh)

    recording = record(_parse(path), check)
    pages: dict[int, dict[int, tuple[int, str]]] = {}
    frames: dict[int, dict] = {}
    for delta in [recording.initial] + [s.delta for s in recording.steps]:
        for pid in set(pages) - set(delta.get("procs", pages)):
            del pages[pid]
        for pid, vpn, pfn, state in delta.get("pages", []):
            pages.setdefault(pid, {})[vpn] = (pfn, state)
        for pid, vpn in delta.get("unpage", []):
            del pages[pid][vpn]
        frames.update({f["pfn"]: f for f in delta.get("frames", [])})
        for pfn in delta.get("unframe", []):
            del frames[pfn]
    used = {pfn for proc in pages.values() for pfn, _ in proc.values()}
    assert used <= set(frames)


def _parse(path: Path) -> Scenario:
    scenario = parse_file(str(path))
    check_scenario(scenario)
    return scenario


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_makes_a_small_self_contained_page(path: Path) -> None:
    """Each example's page is under 1 MB and names no address outside itself."""
    recording = record_file(str(path))
    html = render_page(recording)
    assert len(html.encode()) < 1_000_000
    assert "http://" not in html
    assert "https://" not in html
    assert len(recording.steps) == len(page_data(recording)["steps"])


def test_a_long_run_over_many_pages_makes_a_page_under_5_mb() -> None:
    """500 steps over 2,000 pages: each step stores only what changed."""
    recording = record(parse_text(big_scenario(), "big.mmap"))
    assert len(recording.steps) == 500
    html = render_page(recording)
    assert len(html.encode()) < 5_000_000
    later = [len(json.dumps(s.delta)) for s in recording.steps[10:]]
    assert max(later) < 5_000


def test_run_html_writes_one_page(tmp_path: Path) -> None:
    """``mmapsim run FILE --html out.html`` writes the page beside the usual output."""
    out = tmp_path / "out.html"
    example = str(ROOT / "examples" / "lecture" / "07_msync.mmap")
    result = CliRunner().invoke(main, ["run", example, "--html", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("command", ["run", "tour"])
def test_html_to_a_path_that_cannot_be_written_says_why_and_exits_2(
    tmp_path: Path, command: str
) -> None:
    """A file where --html needs a folder: one line naming the path, exit 2, no traceback."""
    blocker = tmp_path / "afile"
    blocker.write_text("")
    target = str(blocker / "pages" / "out.html")
    example = str(ROOT / "examples" / "lecture" / "07_msync.mmap")
    args = ["run", example, "--html", target] if command == "run" else ["tour", "--html", target]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"mmapsim: cannot write {target}: ")
    assert result.stderr.rstrip().endswith(("Not a directory", "File exists"))
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_tour_html_writes_an_index_and_linked_pages(tmp_path: Path) -> None:
    """``mmapsim tour --html DIR`` writes index.html and one page per slide, linked in order."""
    result = CliRunner().invoke(main, ["tour", "--html", str(tmp_path)])
    assert result.exit_code == 0
    pages = sorted(p.name for p in tmp_path.iterdir() if p.name != "index.html")
    assert len(pages) == 8
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert [index.index(f'href="{name}"') for name in pages] == sorted(
        index.index(f'href="{name}"') for name in pages
    )
    second = (tmp_path / pages[1]).read_text(encoding="utf-8")
    assert f'"prev":["{pages[0]}"' in second
    assert f'"next":["{pages[2]}"' in second


def test_exports_without_chromium_say_so_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--png and --pdf need Chromium: without it, a clear message and status 2."""
    monkeypatch.setenv("PATH", str(tmp_path))
    example = str(ROOT / "examples" / "lecture" / "07_msync.mmap")
    for option in (["--png", str(tmp_path / "png")], ["--pdf", str(tmp_path / "h.pdf")]):
        result = CliRunner().invoke(main, ["run", example, *option])
        assert result.exit_code == 2
        assert "chromium is not installed" in result.output
        assert "pip install 'mmapsim[export]'" in result.output  # the extra, not eaten as markup
    assert not (tmp_path / "h.pdf").exists()


def test_hinted_updates_over_a_long_run_match_the_whole_picture() -> None:
    """Stores after a fork (copies, shared file pages, typed values) are all caught."""

    def check(machine: SimMachine, tracker: Tracker, names: dict[int, str]) -> None:
        fresh = Tracker(machine)
        fresh.typed = tracker.typed
        fresh.update(names)
        assert _tables(tracker) == _tables(fresh)

    record(parse_text(big_scenario(120, 300), "big.mmap"), check)


def test_the_page_names_processes_as_the_scenario_does() -> None:
    """An event on the page says 'Child', as the trace does, never 'pid 102'."""
    scenario = parse_text(
        "A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)\n"
        'A: p[0:2] = "hi"\n'
        "Child = fork(A)\n"
        'Child: p[0:2] = "yo"\n',
        "names.mmap",
    )
    check_scenario(scenario)
    recording = record(scenario)
    words = [e["text"] for e in recording.steps[-1].events]
    assert any(w.startswith("Child: ") for w in words), words
    every = [e["text"] for step in recording.steps for e in step.events]
    assert not any("pid " in w for w in every), every
