"""``mmapsim crashes``: explore the crash states of a scenario (:mod:`mmapsim.crashes`)."""

from __future__ import annotations

import os

import click

from mmapsim.cli.group import COLOR, main, make_output
from mmapsim.crashes.budget import DEFAULT_MAX_STATES, DEFAULT_SHOW


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--torn", is_flag=True, help="Pages reach the disk in 512-byte sectors, not whole.")
@click.option(
    "--max-states",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_STATES,
    show_default=True,
    metavar="N",
    help="Check at most N distinct crash states; beyond, a seeded sample of N.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the sample beyond the budget."
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    metavar="N",
    help="Check the states in N worker processes (0: one per CPU).",
)
@click.option(
    "--show",
    type=click.IntRange(min=0),
    default=DEFAULT_SHOW,
    show_default=True,
    metavar="N",
    help="Print at most N failing states in full (0: all; --json lists all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--html",
    "html",
    default=None,
    metavar="PATH",
    help="Write the step-through page of the first failing state (.html), or of each (a folder).",
)
@COLOR
def crashes(
    file: str,
    torn: bool,
    max_states: int,
    seed: int,
    jobs: int,
    show: int,
    as_json: bool,
    html: str | None,
    color: bool | None,
) -> None:
    """Try a power failure at every step of FILE; check its recover: section on each disk."""
    from mmapsim.crashes.command import Options, explore_file

    output = make_output(False if as_json else color)
    workers = jobs or os.cpu_count() or 1
    options = Options(max_states=max_states, seed=seed, torn=torn, jobs=workers, show=show)
    status = explore_file(file, output.out, output.err, options, as_json=as_json, html=html)
    raise SystemExit(status)
