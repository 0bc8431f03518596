"""show frame A p and show cache PATH, on both kernels, through mmapsim run."""

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
MEMORY = """\
file /tmp/f "hello, world"
A: fd = open("/tmp/f", O_RDWR)
A: p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
B: fd = open("/tmp/f", O_RDONLY)
B: q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)
B: q[0]
A: p.int[4] = -1234
A: p.u64[3] = 99
show frame A p
show frame A p + 4096
show cache /tmp/f
A: p[0:5] = "HELLO"
show cache /tmp/f
A: msync(p, 4096, MS_SYNC)
show cache /tmp/f
"""


def run(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "m.mmap"
    path.write_text(text)
    result = CliRunner().invoke(main, ["run", *args, str(path)])
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.stdout, result.stderr


def _block(out: str, line: int) -> str:
    return out.split(f"\n{line:>4}  ", 1)[1].split(f"\n{line + 1:>4}  ", 1)[0]


@pytest.mark.parametrize("kernel", KERNELS)
def test_show_frame_dumps_the_frame_and_who_maps_it(tmp_path: Path, kernel: str) -> None:
    """Hex and text, the typed places as integers, both processes that map the frame."""
    code, out, err = run(tmp_path, MEMORY, "--kernel", kernel)
    assert code == 0, out + err
    frame = _block(out, 9)
    assert "0000  68 65 6c 6c 6f 2c 20 77 6f 72 6c 64 00 00 00 00  |hello, world....|" in frame
    assert "... 4064 zero bytes" in frame
    assert "int at +0x10: -1234" in frame
    assert "u64 at +0x18: 99" in frame
    mappers = frame.split("mapped by: ")[1]
    assert mappers.startswith("A at 0x")
    assert ", B at 0x" in mappers
    assert "no frame (not present" in _block(out, 10)


@pytest.mark.parametrize("kernel", KERNELS)
def test_show_cache_says_dirty_or_clean_beside_the_disk(tmp_path: Path, kernel: str) -> None:
    """A store makes the page dirty and newer than the disk; msync cleans it."""
    code, out, _ = run(tmp_path, MEMORY, "--kernel", kernel)
    assert code == 0
    dirty = _block(out, 13)
    assert 'page 0  dirty       cache: "HELLO, world"' in dirty
    if kernel == "sim":
        assert 'disk:  "hello, world"' in dirty
    else:
        assert "disk:  (unknown: the page is dirty)" in dirty
    clean = _block(out, 15)
    assert 'page 0  clean       cache: "HELLO, world"' in clean
    assert 'disk:  "HELLO, world"' in clean


@pytest.mark.parametrize(
    ("text", "message"),
    [("A:\nshow frame A\n", "show frame needs an address"), ("show cache\n", "a path is needed")],
)
def test_show_memory_mistakes(tmp_path: Path, text: str, message: str) -> None:
    code, _, err = run(tmp_path, text)
    assert code == 2
    assert message in err


def test_show_cache_of_a_missing_file(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "show cache /tmp/nope\n")
    assert code == 0
    assert "/tmp/nope: No such file or directory" in out
