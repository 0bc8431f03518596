"""``mmapsim tour``: the lecture, one narrated scenario per slide."""

from __future__ import annotations

import click

from mmapsim.cli.group import COLOR, main, make_output, wrote
from mmapsim.scenario.tour import list_slides, run_tour
from mmapsim.viz.commands import write_tour_pages


@main.command()
@click.option("--slide", type=int, default=None, help="Run only this slide.")
@click.option("--list", "list_only", is_flag=True, help="List the slides.")
@click.option("--trace", is_flag=True, help="Show the kernel's events under each step.")
@click.option(
    "--html",
    "html",
    default=None,
    metavar="DIR",
    help="Also write one page per slide, linked in order, and index.html.",
)
@COLOR
def tour(
    slide: int | None, list_only: bool, trace: bool, html: str | None, color: bool | None
) -> None:
    """A walk through the lecture, one scenario per slide, on the simulator."""
    output = make_output(color)
    if list_only:
        raise SystemExit(list_slides(output))
    status = run_tour(output, only=slide, trace=trace)
    if html is not None and status != 2:
        wrote(output, write_tour_pages(html, only=slide))
    raise SystemExit(status)
