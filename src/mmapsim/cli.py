"""The ``mmapsim`` command: run, diff, layout, shell and tour.

A thin layer over :mod:`mmapsim.scenario.commands`, :mod:`mmapsim.scenario.shell`
and :mod:`mmapsim.scenario.tour`: it reads the options, makes the consoles and
exits with the status those functions return (0 every expect held, 1 one failed
or the kernels disagreed, 2 a scenario that cannot be read or run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mmapsim.scenario.commands import Output, diff_files, layout_file, run_files
from mmapsim.scenario.render import make_console
from mmapsim.scenario.shell import run_shell
from mmapsim.scenario.tour import list_slides, run_tour
from mmapsim.viz.commands import write_scenario_pages, write_tour_pages

_KERNEL = click.Choice(["sim", "host"])
_COLOR = click.option(
    "--color/--no-color", default=None, help="Colour the output (default: on a terminal)."
)


_HTML = click.option(
    "--html",
    "html",
    default=None,
    metavar="PATH",
    help="Also write a step-through page (run on the simulator): a .html file, or a folder.",
)


def _wrote(output: Output, paths: list[Path]) -> None:
    for path in paths:
        output.err.print(f"wrote {path}")


def _output(color: bool | None) -> Output:
    out = make_console(color=color)
    err = make_console(color=color)
    err.stderr = True
    return Output(out, err)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mmapsim")
def main() -> None:
    """mmapsim: mmap, msync and munmap of a Unix kernel, simulated and checked against Linux."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--kernel", type=_KERNEL, default="sim", show_default=True, help="Where to run.")
@click.option("--trace", is_flag=True, help="Show the kernel's events under each step.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--all-maps", is_flag=True, help="On the host, show maps also lists the worker's own mappings."
)
@_HTML
@_COLOR
def run(
    files: tuple[str, ...],
    kernel: str,
    trace: bool,
    as_json: bool,
    all_maps: bool,
    html: str | None,
    color: bool | None,
) -> None:
    """Run scenario FILES and show what every step did."""
    output = _output(False if as_json else color)
    status = run_files(
        files, output, kernel=kernel, trace=trace, as_json=as_json, all_maps=all_maps
    )
    if html is not None and status != 2:
        _wrote(output, write_scenario_pages(files, html))
    raise SystemExit(status)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_COLOR
def diff(files: tuple[str, ...], color: bool | None) -> None:
    """Run FILES on the simulator and on the real kernel; show where they disagree."""
    raise SystemExit(diff_files(files, _output(color)))


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--process", "-p", default=None, metavar="NAME", help="Draw only this process.")
@click.option("--kernel", type=_KERNEL, default="sim", show_default=True, help="Where to run.")
@click.option(
    "--unicode/--ascii",
    "unicode",
    default=None,
    help="Draw with box-drawing characters or plain ASCII (default: what the output can show).",
)
@_COLOR
def layout(
    file: str, process: str | None, kernel: str, unicode: bool | None, color: bool | None
) -> None:
    """Run FILE, then draw each process's address space like the lecture's figure."""
    ascii_only = None if unicode is None else not unicode
    output = _output(color)
    raise SystemExit(
        layout_file(file, output, kernel=kernel, process=process, ascii_only=ascii_only)
    )


@main.command()
@click.option("--kernel", type=_KERNEL, default="sim", show_default=True, help="Where to run.")
@_COLOR
def shell(kernel: str, color: bool | None) -> None:
    """Type scenario lines and see each one run."""
    stdin = None if sys.stdin.isatty() else sys.stdin
    raise SystemExit(run_shell(_output(color), kernel=kernel, stdin=stdin))


@main.command()
@click.option("--slide", type=int, default=None, help="Run only this slide.")
@click.option("--list", "list_only", is_flag=True, help="List the slides.")
@click.option("--trace", is_flag=True, help="Show the kernel's events under each step.")
@click.option("--html", "html", default=None, metavar="DIR", help="Also write one page per slide.")
@_COLOR
def tour(
    slide: int | None, list_only: bool, trace: bool, html: str | None, color: bool | None
) -> None:
    """A walk through the lecture, one scenario per slide, on the simulator."""
    output = _output(color)
    if list_only:
        raise SystemExit(list_slides(output))
    status = run_tour(output, only=slide, trace=trace)
    if html is not None and status != 2:
        _wrote(output, write_tour_pages(html, only=slide))
    raise SystemExit(status)
