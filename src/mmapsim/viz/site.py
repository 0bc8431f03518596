"""What ``mmapsim run --html`` and ``mmapsim tour --html`` do; the CLI only forwards here.

One page per scenario.  ``run`` with one file writes the page to the path given
(a path not ending in ``.html`` is taken as a folder); with several files the
path is a folder and each page is named after its scenario file.  ``tour``
writes one page per slide into a folder, each linked to the previous and the
next slide, and an ``index.html`` that lists them in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mmapsim.scenario.learn.slides import slides
from mmapsim.viz.page import Links, escape, write_html
from mmapsim.viz.record import Recording, record, record_file


def page_paths(files: Sequence[str], out: str) -> list[Path]:
    """Where the page of each scenario file goes."""
    target = Path(out)
    if len(files) == 1 and target.suffix == ".html":
        return [target]
    return [target / (Path(f).stem + ".html") for f in files]


def record_files(files: Sequence[str]) -> list[Recording]:
    """Record each scenario file on the simulator."""
    return [record_file(f) for f in files]


def write_scenario_pages(files: Sequence[str], out: str) -> list[Path]:
    """Record each scenario on the simulator and write its page; the paths written."""
    return [
        write_html(recording, path)
        for recording, path in zip(record_files(files), page_paths(files, out), strict=True)
    ]


def write_tour_pages(folder: str, only: int | None = None) -> list[Path]:
    """One page per slide of the tour (or only slide ``only``) in ``folder``, each
    linked to its neighbours, and ``index.html`` listing them; the paths written."""
    chosen = [s for s in slides() if only is None or s.number == only]
    names = [slide.name.replace(".mmap", ".html") for slide in chosen]
    recordings = [record(slide.scenario()) for slide in chosen]
    titles = [r.title for r in recordings]
    written: list[Path] = []
    for i, recording in enumerate(recordings):
        links = Links(
            index="index.html",
            prev=(names[i - 1], titles[i - 1]) if i > 0 else None,
            next=(names[i + 1], titles[i + 1]) if i + 1 < len(names) else None,
        )
        written.append(write_html(recording, Path(folder) / names[i], links))
    index = Path(folder) / "index.html"
    index.write_text(tour_index(list(zip(names, titles, recordings, strict=True))), "utf-8")
    return [index, *written]


def tour_index(pages: list[tuple[str, str, Recording]]) -> str:
    """The index page of a tour: its slides in order, each with its step count."""
    items = "\n".join(
        f'<li><a href="{escape(name)}">{escape(title)}</a> '
        f'<span class="steps">{len(rec.steps)} steps</span></li>'
        for name, title, rec in pages
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The tour · mmapsim</title>
<style>
body {{ font: 18px/1.5 system-ui, sans-serif; color: #1b1b1f; margin: 2rem auto; max-width: 44rem;
  padding: 0 1rem; }}
a {{ color: #1f4f9f; }}
.steps {{ color: #4d5260; font-size: 0.85em; }}
</style>
</head>
<body>
<main>
<h1>The tour: memory mappings, one slide at a time</h1>
<p>Each slide is a scenario, shown step by step on the simulated machine.</p>
<ol id="slides">
{items}
</ol>
</main>
</body>
</html>
"""


def export_pages(files: Sequence[str], png: str | None, pdf: str | None) -> list[Path]:
    """Images (``png``: a folder) and a handout (``pdf``: a file) of each scenario.

    With several scenarios, each gets its own subfolder of ``png`` and its own
    PDF named after it beside ``pdf``.  Raises NoBrowser without Chromium.
    """
    import tempfile

    from mmapsim.viz.export import chromium_paths, export_pdf, export_png

    chromium_paths()
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="mmapsim-pages-") as tmp:
        for f, recording in zip(files, record_files(files), strict=True):
            page = write_html(recording, Path(tmp) / (Path(f).stem + ".html"))
            if png is not None:
                folder = Path(png) if len(files) == 1 else Path(png) / Path(f).stem
                written.extend(export_png(page, folder))
            if pdf is not None:
                target = Path(pdf)
                if len(files) > 1:
                    target = target.with_name(f"{target.stem}-{Path(f).stem}{target.suffix}")
                written.append(export_pdf(page, target))
    return written
