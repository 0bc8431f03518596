"""``--png`` and ``--pdf``: images and a handout made by the same headless Chromium.

Skipped when Chromium, its driver or Selenium is missing (test_viz_snapshot checks
the clear error and exit status 2 for that case).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim.cli import main
from mmapsim.viz import record_file
from mmapsim.viz.export import NoBrowser, chromium_paths

pytestmark = pytest.mark.simonly

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "lecture" / "03_shared_file_mapping.mmap"


def test_png_per_step_and_a_pdf_handout(tmp_path: Path) -> None:
    """One 1920-pixel-wide PNG per step (and step 0), and a PDF with a page per step."""
    try:
        chromium_paths()
    except NoBrowser as err:
        pytest.skip(str(err))
    pytest.importorskip("selenium")
    steps = len(record_file(str(EXAMPLE)).steps)
    png, pdf = tmp_path / "png", tmp_path / "handout.pdf"
    result = CliRunner().invoke(main, ["run", str(EXAMPLE), "--png", str(png), "--pdf", str(pdf)])
    assert result.exit_code == 0, result.output
    images = sorted(png.iterdir())
    assert [p.name for p in images] == [f"step-{i:03d}.png" for i in range(steps + 1)]
    head = images[-1].read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width == 1920
    assert height >= 1080
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages >= steps + 1
