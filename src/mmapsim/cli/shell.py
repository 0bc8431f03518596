"""``mmapsim shell``: the language interactively."""

from __future__ import annotations

import sys

import click

from mmapsim.cli.group import COLOR, KERNEL, main, make_output


@main.command()
@click.option("--kernel", type=KERNEL, default="sim", show_default=True, help="Where to run.")
@COLOR
def shell(kernel: str, color: bool | None) -> None:
    """Type scenario lines and see each one run."""
    from mmapsim.scenario.run.interactive import run_shell

    stdin = None if sys.stdin.isatty() else sys.stdin
    raise SystemExit(run_shell(make_output(color), kernel=kernel, stdin=stdin))
