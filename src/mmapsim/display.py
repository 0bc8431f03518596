"""How a layer above draws the objects of the layers below it in a notebook.

Jupyter asks an object for its picture through ``_repr_html_``.  ``Machine`` and
``Process`` are drawn by the step-through page (:mod:`mmapsim.viz`), which sits
above them and imports them, so they cannot import it: the page registers its
drawings here when it is imported, and their ``_repr_html_`` asks for them.
Until ``mmapsim.viz`` is imported, Jupyter shows the plain ``repr``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_DRAWINGS: dict[str, Callable[[Any], str]] = {}


def register_html(kind: str, draw: Callable[[Any], str]) -> None:
    """Draw every object of ``kind`` ("machine", "process") with ``draw``."""
    _DRAWINGS[kind] = draw


def html(kind: str, obj: object) -> str | None:
    """The HTML picture of ``obj``, or None when no drawing is registered."""
    draw = _DRAWINGS.get(kind)
    return draw(obj) if draw is not None else None
