"""``mmapsim run``, ``mmapsim diff`` and ``mmapsim layout``."""

from __future__ import annotations

import click

from mmapsim.cli.exports import PDF, PNG, write_exports
from mmapsim.cli.group import COLOR, HTML, KERNEL, main, make_output, write_pages


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--kernel", type=KERNEL, default="sim", show_default=True, help="Where to run.")
@click.option("--trace", is_flag=True, help="Show the kernel's events under each step.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--all-maps", is_flag=True, help="On the host, show maps also lists the worker's own mappings."
)
@HTML
@PNG
@PDF
@COLOR
def run(
    files: tuple[str, ...],
    kernel: str,
    trace: bool,
    as_json: bool,
    all_maps: bool,
    html: str | None,
    png: str | None,
    pdf: str | None,
    color: bool | None,
) -> None:
    """Run scenario FILES and show what every step did."""
    from mmapsim.scenario.run.batch import run_files
    from mmapsim.viz.site import write_scenario_pages

    output = make_output(False if as_json else color)
    status = run_files(
        files, output, kernel=kernel, trace=trace, as_json=as_json, all_maps=all_maps
    )
    if html is not None and status != 2:
        status = max(status, write_pages(output, html, lambda: write_scenario_pages(files, html)))
    if status != 2:
        status = max(status, write_exports(output, files, png, pdf))
    raise SystemExit(status)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@COLOR
def diff(files: tuple[str, ...], as_json: bool, color: bool | None) -> None:
    """Run FILES on the simulator and on the real kernel; show where they disagree.

    Every step's results and every show (maps, smaps and pages of the scenario's
    own mappings, files) are compared; exit status 1 when anything differs."""
    from mmapsim.scenario.run.batch import diff_files

    raise SystemExit(diff_files(files, make_output(False if as_json else color), as_json=as_json))


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--process", "-p", default=None, metavar="NAME", help="Draw only this process.")
@click.option("--kernel", type=KERNEL, default="sim", show_default=True, help="Where to run.")
@click.option(
    "--unicode/--ascii",
    "unicode",
    default=None,
    help="Draw with box-drawing characters or plain ASCII (default: what the output can show).",
)
@COLOR
def layout(
    file: str, process: str | None, kernel: str, unicode: bool | None, color: bool | None
) -> None:
    """Run FILE, then draw each process's address space like the lecture's figure."""
    from mmapsim.scenario.run.batch import layout_file

    ascii_only = None if unicode is None else not unicode
    output = make_output(color)
    raise SystemExit(
        layout_file(file, output, kernel=kernel, process=process, ascii_only=ascii_only)
    )
