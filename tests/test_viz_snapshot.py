"""The visualizer's data: the snapshot of a machine and the page built from it."""

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
from mmapsim.viz import page_data, record_file, render_page, snapshot

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


def test_a_huge_sparse_mapping_lists_only_its_present_pages(sim: Machine) -> None:
    """A 64 TiB mapping with two touched pages is two page entries, not billions."""
    p = sim.spawn("A")
    va = p.mmap(None, 64 << 40, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
    p.store(va, b"x")
    p.store(va + (1 << 40), b"y")
    state = snapshot(sim)
    vma = _vma_at(state, p.pid, va)
    assert [page[0] for page in vma["pages"]] == [0, (1 << 40) // 4096]
    assert len(json.dumps(state)) < 20_000


def test_each_mapping_kind_is_named(sim: Machine) -> None:
    """Shared and private, file and anonymous mappings get their four kinds."""
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
        assert _vma_at(state, p.pid, va)["kind"] == kind
    roles = {v["role"] for v in state["procs"][0]["vmas"]}
    assert {"text", "data", "heap", "mmap", "stack"} <= roles


def test_fork_makes_private_pages_copy_on_write_until_written(sim: Machine) -> None:
    """After fork a private page is copy-on-write in both; a write gives the writer its own."""
    parent = sim.spawn("P")
    va = parent.mmap(None, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    parent.store(va, b"1")
    child = parent.fork()
    state = snapshot(sim)
    before = _page(state, parent.pid, va)
    assert before[2] == "cow"
    assert _page(state, child.pid, va) == before
    child.store(va, b"2")
    state = snapshot(sim)
    mine = _page(state, child.pid, va)
    assert mine[2] == "rw"
    assert mine[1] != before[1]


def test_msync_cleans_the_dirty_file_page(sim: Machine) -> None:
    """A store dirties the cached page beside unchanged disk bytes; MS_SYNC cleans it."""
    sim.write_file("/tmp/f", b"hello")
    p = sim.spawn("A")
    va = p.mmap(None, 4096, RW, MAP_SHARED, p.open("/tmp/f", O_RDWR))
    p.store(va, b"HELLO")
    row = next(f for f in snapshot(sim)["files"] if f["path"] == "/tmp/f")["pages"][0]
    assert row["dirty"] is True
    assert row["disk"].startswith("hello")
    assert row["cached"].startswith("HELLO")
    p.msync(va, 4096, MS_SYNC)
    row = next(f for f in snapshot(sim)["files"] if f["path"] == "/tmp/f")["pages"][0]
    assert row["dirty"] is False
    assert row["disk"].startswith("HELLO")


def test_frames_say_what_holds_them(sim: Machine) -> None:
    """Frames are page cache (file and offset), anonymous, or the zero frame."""
    sim.write_file("/tmp/f", b"abc")
    p = sim.spawn("A")
    shared = p.mmap(None, 4096, PROT_READ, MAP_SHARED, p.open("/tmp/f", O_RDWR))
    anon = p.mmap(None, 8192, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    p.load(shared, 1)
    p.load(anon, 1)
    p.store(anon + 4096, b"z")
    frames = {f["pfn"]: f for f in snapshot(sim)["frames"]}
    state = snapshot(sim)
    assert frames[_page(state, p.pid, shared)[1]]["file"] == "/tmp/f"
    assert frames[_page(state, p.pid, anon)[1]]["owner"] == "zero"
    assert frames[_page(state, p.pid, anon + 4096)[1]]["owner"] == "anon"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_makes_a_small_self_contained_page(path: Path) -> None:
    """Each example's page is under 2 MB and names no address outside itself."""
    recording = record_file(str(path))
    html = render_page(recording)
    assert len(html.encode()) < 2_000_000
    assert "http://" not in html
    assert "https://" not in html
    assert len(recording.steps) == len(page_data(recording)["steps"])


def test_run_html_writes_one_page(tmp_path: Path) -> None:
    """``mmapsim run FILE --html out.html`` writes the page beside the usual output."""
    out = tmp_path / "out.html"
    example = str(ROOT / "examples" / "lecture" / "07_msync.mmap")
    result = CliRunner().invoke(main, ["run", example, "--html", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_tour_html_writes_one_page_per_slide(tmp_path: Path) -> None:
    """``mmapsim tour --html DIR --slide 3`` writes that slide's page into DIR."""
    result = CliRunner().invoke(main, ["tour", "--slide", "3", "--html", str(tmp_path)])
    assert result.exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["03_shared_file_mapping.html"]
