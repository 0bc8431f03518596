"""``mmapsim tour``: the lecture, one narrated scenario per slide."""

from __future__ import annotations

import sys

import click

from mmapsim.cli.group import COLOR, main, make_output, write_pages


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
@click.option("--all", "all_at_once", is_flag=True, help="Print every slide without waiting.")
@COLOR
def tour(
    slide: int | None,
    list_only: bool,
    trace: bool,
    html: str | None,
    all_at_once: bool,
    color: bool | None,
) -> None:
    """A walk through the lecture, one scenario per slide, on the simulator.

    On a terminal it waits for Enter after each slide (q quits); piped, or
    with --all, it prints every slide at once.
    """
    from mmapsim.scenario.learn.slides import list_slides, pause_at_terminal, run_tour
    from mmapsim.viz.site import write_tour_pages

    output = make_output(color)
    if list_only:
        raise SystemExit(list_slides(output))
    paced = not all_at_once and sys.stdin.isatty() and sys.stdout.isatty()
    pause = pause_at_terminal(output) if paced else None
    status = run_tour(output, only=slide, trace=trace, pause=pause)
    if html is not None and status != 2:
        status = max(status, write_pages(output, html, lambda: write_tour_pages(html, slide)))
    raise SystemExit(status)
