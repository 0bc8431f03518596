"""The ``--png`` and ``--pdf`` options: the step-through pages as images and a handout."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mmapsim.cli.group import write_pages

if TYPE_CHECKING:
    from mmapsim.scenario.run.batch import Output

PNG = click.option(
    "--png",
    "png",
    default=None,
    metavar="DIR",
    help="Also write one image per step into DIR (headless Chromium; run on the simulator).",
)
PDF = click.option(
    "--pdf",
    "pdf",
    default=None,
    metavar="FILE",
    help="Also write a printable handout of every step (headless Chromium).",
)


def write_exports(output: Output, files: tuple[str, ...], png: str | None, pdf: str | None) -> int:
    """Write the --png images and the --pdf handout; 2 when Chromium is missing or a
    path cannot be written."""
    if png is None and pdf is None:
        return 0
    from rich.text import Text

    from mmapsim.viz.export import NoBrowser
    from mmapsim.viz.site import export_pages

    try:
        return write_pages(output, png or pdf or "", lambda: export_pages(files, png, pdf))
    except NoBrowser as err:
        output.err.print(Text(f"mmapsim: {err}"))
        return 2
