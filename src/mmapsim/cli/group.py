"""The command group and the options several commands share.

Only :mod:`click` is imported here at once: the consoles, the scenario runner
and the simulator are imported by the command that needs them, so that
``mmapsim --help`` and the shell's start-up do not wait for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from pathlib import Path

    from mmapsim.scenario.run.batch import Output

KERNEL = click.Choice(["sim", "host"])
COLOR = click.option(
    "--color/--no-color", default=None, help="Colour the output (default: on a terminal)."
)
HTML = click.option(
    "--html",
    "html",
    default=None,
    metavar="PATH",
    help="Also write a step-through page (run on the simulator): a .html file, or a folder.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mmapsim")
def main() -> None:
    """mmapsim: mmap, msync and munmap of a Unix kernel, simulated and checked against Linux."""


def wrote(output: Output, paths: list[Path]) -> None:
    """Say which files a command wrote."""
    for path in paths:
        output.err.print(f"wrote {path}")


def write_pages(output: Output, target: str, write: Callable[[], list[Path]]) -> int:
    """Run ``write`` and say which files it wrote; 2, and why, when a path cannot
    be written (a folder that cannot be made, a file in its place, no permission)."""
    from rich.text import Text

    try:
        paths = write()
    except OSError as err:
        why = err.strerror or str(err)
        if err.filename and str(err.filename) != target:
            why = f"{err.filename}: {why}"
        output.err.print(Text(f"mmapsim: cannot write {target}: {why}"))
        return 2
    wrote(output, paths)
    return 0


def make_output(color: bool | None) -> Output:
    """Standard output and standard error consoles, coloured on a terminal."""
    from mmapsim.scenario.render import make_console
    from mmapsim.scenario.run.batch import Output

    out = make_console(color=color)
    err = make_console(color=color)
    err.stderr = True
    return Output(out, err)
