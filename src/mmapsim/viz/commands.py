"""What ``mmapsim run --html`` and ``mmapsim tour --html`` do; the CLI only forwards here.

One page per scenario.  ``run`` with one file writes the page to the path given
(a path not ending in ``.html`` is taken as a folder); with several files the
path is a folder and each page is named after its scenario file.  ``tour``
writes one page per slide into a folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mmapsim.scenario.tour import slides
from mmapsim.viz.page import write_html
from mmapsim.viz.record import record, record_file


def page_paths(files: Sequence[str], out: str) -> list[Path]:
    """Where the page of each scenario file goes."""
    target = Path(out)
    if len(files) == 1 and target.suffix == ".html":
        return [target]
    return [target / (Path(f).stem + ".html") for f in files]


def write_scenario_pages(files: Sequence[str], out: str) -> list[Path]:
    """Record each scenario on the simulator and write its page; the paths written."""
    return [
        write_html(record_file(f), path)
        for f, path in zip(files, page_paths(files, out), strict=True)
    ]


def write_tour_pages(folder: str, only: int | None = None) -> list[Path]:
    """One page per slide of the tour (or only slide ``only``) in ``folder``."""
    chosen = [s for s in slides() if only is None or s.number == only]
    return [
        write_html(record(slide.scenario()), Path(folder) / slide.name.replace(".mmap", ".html"))
        for slide in chosen
    ]
