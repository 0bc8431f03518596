"""Writing a recording as one self-contained HTML page.

The page is ``page.html`` with its style sheet, its scripts and the data of
every step inlined: no server, no network, nothing fetched.  To stay small
the data holds the machine before the first step and, for each step, only
what the step changed (the tracker's delta); the script replays them.
``links`` adds the previous and next pages of a tour and its index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mmapsim.viz.record import Recording, StepRecord
from mmapsim.viz.snapshot import Json

#: The scripts of the page, in the order they run.
SCRIPTS = ("draw.js", "bytes.js", "page.js")

FORMAT = 2


@dataclass(frozen=True)
class Links:
    """Where a page of a tour leads: the index and its neighbours (None at the ends)."""

    index: str
    prev: tuple[str, str] | None = None  # (href, title)
    next: tuple[str, str] | None = None


def _step_json(step: StepRecord) -> Json:
    return {
        "line": step.line,
        "process": step.process,
        "source": step.source,
        "result": step.result,
        "events": step.events,
        "failed": step.failed,
        "narration": step.narration,
        "delta": step.delta,
    }


def page_data(recording: Recording, links: Links | None = None) -> Json:
    """Everything the page needs: the first picture and each step's delta."""
    data: Json = {
        "format": FORMAT,
        "title": recording.title,
        "path": recording.path,
        "initial": recording.initial,
        "steps": [_step_json(step) for step in recording.steps],
    }
    if links is not None:
        data["links"] = {"index": links.index, "prev": links.prev, "next": links.next}
    return data


def asset(name: str) -> str:
    """The text of one of the page's files (``page.css``, ``page.js``, ...)."""
    return (resources.files("mmapsim") / "viz" / name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    """Text that cannot end the ``<script>`` element it is put in."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def escape(text: str) -> str:
    """``text`` safe inside HTML text and attribute values."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def render_page(recording: Recording, links: Links | None = None) -> str:
    """The whole HTML page of ``recording``."""
    data = json.dumps(page_data(recording, links), separators=(",", ":"), ensure_ascii=False)
    script = "\n".join(asset(name) for name in SCRIPTS)
    html = asset("page.html")
    html = html.replace("/*CSS*/", asset("page.css"))
    html = html.replace("/*JS*/", _script_safe(script))
    html = html.replace("{{TITLE}}", escape(recording.title))
    return html.replace("/*DATA*/", _script_safe(data))


def write_html(recording: Recording, out: str | Path, links: Links | None = None) -> Path:
    """Write the page of ``recording`` to ``out``; returns the path written."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(recording, links), encoding="utf-8")
    return path
