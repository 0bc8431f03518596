"""Writing a recording as one self-contained HTML page.

The page is ``page.html`` with ``page.css``, ``page.js`` and the data of every
step inlined: no server, no network, nothing fetched.  To stay small the
states are interned: each process, each file and each frame list is stored
once in ``parts`` and a step names the parts it shows, so a step that changes
one process costs one process, not the whole machine.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from mmapsim.viz.record import Recording, StepRecord
from mmapsim.viz.snapshot import Json


class _Parts:
    """A table of distinct JSON values; ``add`` returns a value's index."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[str, int] = {}

    def add(self, value: Any) -> int:
        key = json.dumps(value, sort_keys=True, separators=(",", ":"))
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.values)
            self.values.append(value)
        return found


def _state_refs(parts: _Parts, state: Json) -> Json:
    return {
        "procs": [parts.add(p) for p in state["procs"]],
        "frames": parts.add(state["frames"]),
        "files": [parts.add(f) for f in state["files"]],
    }


def _step_json(parts: _Parts, step: StepRecord) -> Json:
    return {
        "line": step.line,
        "process": step.process,
        "source": step.source,
        "result": step.result,
        "events": step.events,
        "failed": step.failed,
        "narration": step.narration,
        "state": _state_refs(parts, step.state),
    }


def page_data(recording: Recording) -> Json:
    """Everything the page needs, with states interned into ``parts``."""
    parts = _Parts()
    initial = _state_refs(parts, recording.initial)
    steps = [_step_json(parts, step) for step in recording.steps]
    return {
        "title": recording.title,
        "path": recording.path,
        "initial": initial,
        "steps": steps,
        "parts": parts.values,
    }


def _asset(name: str) -> str:
    return (resources.files("mmapsim") / "viz" / name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    """Text that cannot end the ``<script>`` element it is put in."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render_page(recording: Recording) -> str:
    """The whole HTML page of ``recording``."""
    data = json.dumps(page_data(recording), separators=(",", ":"), ensure_ascii=False)
    html = _asset("page.html")
    html = html.replace("/*CSS*/", _asset("page.css"))
    html = html.replace("/*JS*/", _script_safe(_asset("page.js")))
    html = html.replace("{{TITLE}}", _escape(recording.title))
    return html.replace("/*DATA*/", _script_safe(data))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_html(recording: Recording, out: str | Path) -> Path:
    """Write the page of ``recording`` to ``out``; returns the path written."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(recording), encoding="utf-8")
    return path
