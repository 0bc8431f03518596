"""Drawing an address space like the lecture's figure, high addresses at the top.

::

    0x7ffffffff000 ┌──────────────────────────────────────────────────┐
                   │ [stack]                          132 KiB  rw-p   │ stack
                   │                                                  │
    0x7ffffffde000 └──────────────────────────────────────────────────┘
                                 ↓ the stack grows down
                   ≈≈≈≈≈≈≈≈≈≈≈≈≈≈≈≈≈≈ 127.9 MiB unmapped ≈≈≈≈≈≈≈≈≈≈≈≈≈≈≈≈≈≈
    0x7ffff7fff000 ┌──────────────────────────────────────────────────┐
                   │ anonymous                         32 KiB  rw-p   │ memory mappings ← p

A box is a band of mappings (:mod:`mmapsim.views.regions`), with its name,
size and permissions inside and its role in the figure beside it; an address
on the left is where a band starts or ends.  Heights are on a log scale — one
line up to 28 KiB, one more for each eight times the size, at most
:data:`MAX_LINES` — so a page and a gigabyte fit on one screen.  A gap too large
for that scale is a break, ``≈ 42.7 TiB unmapped ≈``; a smaller one is drawn
inside the box with dotted sides.  The same picture in ASCII
(:func:`to_ascii`) is for an output that cannot show Unicode.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from mmapsim.constants import PAGE_SIZE
from mmapsim.views.regions import Band, Gap, Segment, layout_of

MAX_LINES = 4  # the tallest band, in lines
INNER = 50  # characters inside a box
_LABEL = INNER - 19  # the label column inside a box
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
LEGEND = (
    "heights: 1 line up to 28 KiB, 1 more for each 8 times the size, at most "
    f"{MAX_LINES}; ≈ is not to scale"
)

_ASCII = str.maketrans("┌┐└┘├┤─│┆≈↓↑←×…╌", "++++++-|:~v^<x.-")


def to_ascii(text: str) -> str:
    """The same drawing with ASCII characters only (one for one, so it stays aligned)."""
    return text.translate(_ASCII)


def human_size(size: int) -> str:
    """``4 KiB``, ``132 KiB``, ``127.9 MiB``: exact when whole, else one decimal."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if value == int(value):
        return f"{int(value)} {_UNITS[unit]}"
    return f"{value:.1f} {_UNITS[unit]}"


def lines_for(size: int) -> int:
    """How many lines a band of ``size`` bytes takes (before the cap)."""
    pages = max(1, size // PAGE_SIZE)
    return 1 + (pages.bit_length() - 1) // 3


def is_break(segment: Segment) -> bool:
    """Whether a gap is too large to draw to scale, and is drawn as a break."""
    return isinstance(segment, Gap) and lines_for(segment.size) > MAX_LINES


def draw_layout(maps: str, pointers: Mapping[str, int] | None = None) -> str:
    """The picture of the address space described by ``maps`` text.

    ``pointers`` (a scenario's address variables) are marked ``← p`` beside the
    band or gap that holds them.
    """
    segments = layout_of(maps)
    if not segments:
        return "(no mappings)"
    width = 18 if any(s.end > 1 << 48 for s in segments) else 14
    return "\n".join([*_Picture(width, pointers or {}).draw(segments), LEGEND])


class _Picture:
    """Draws segments from the top down, keeping track of the open box."""

    def __init__(self, width: int, pointers: Mapping[str, int]) -> None:
        self.width = width
        self.pointers = pointers
        self.lines: list[str] = []
        self.open = False
        self.last_role = ""

    def draw(self, segments: list[Segment]) -> list[str]:
        for segment in segments:
            if is_break(segment):
                assert isinstance(segment, Gap)
                self._close(segment.end)
                self._break(segment)
            else:
                self._border(segment.end, "├─┤" if self.open else "┌─┐")
                self.open = True
                self._body(segment)
        self._close(segments[-1].start)
        if segments[-1].start == 0:
            self.lines.append(f"{'╌' * (INNER + 2)} {self._addr(0)}  address 0")
        return self.lines

    def _addr(self, addr: int) -> str:
        return f"0x{addr:0{self.width - 2}x}"

    def _border(self, addr: int, corners: str) -> None:
        left, line, right = corners[0], corners[1], corners[2]
        self.lines.append(f"{left}{line * INNER}{right} {self._addr(addr)}")

    def _close(self, addr: int) -> None:
        if self.open:
            self._border(addr, "└─┘")
            self.open = False
            self.last_role = ""

    def _row(self, inside: str, side: str = "│", note: str = "") -> None:
        self.lines.append(f"{side}{inside:<{INNER}}{side} {note}".rstrip())

    def _marks(self, segment: Segment) -> str:
        names = [n for n, addr in self.pointers.items() if segment.start <= addr < segment.end]
        return f"← {', '.join(names)}" if names else ""

    def _body(self, segment: Segment) -> None:
        if isinstance(segment, Band):
            self._band(segment)
        else:
            self._small_gap(segment)

    def _band(self, band: Band) -> None:
        role = "" if band.role == self.last_role else band.role
        self.last_role = band.role
        note = "  ".join(part for part in (role, self._marks(band)) if part)
        self._row(_band_text(band), note=note)
        height = lines_for(band.size)
        rows = textwrap.wrap(band.detail, INNER - 4, max_lines=max(1, min(height, MAX_LINES) - 1))
        for i in range(max(len(rows), min(height, MAX_LINES) - 1)):
            self._row(f"   {rows[i]}" if i < len(rows) else "")
        if height > MAX_LINES:  # too large to draw to scale: a break inside the box
            self.lines[-1] = self.lines[-1].replace("│", "≈")

    def _small_gap(self, gap: Gap) -> None:
        rows = [text for text in (gap.above, _gap_text(gap), gap.below) if text]
        rows += [""] * (lines_for(gap.size) - len(rows))
        for i, text in enumerate(rows):
            self._row(text.center(INNER), "┆", self._marks(gap) if i == 0 else "")

    def _break(self, gap: Gap) -> None:
        if gap.above:
            self.lines.append(gap.above.center(INNER + 2).rstrip())
        middle = f" {_gap_text(gap)} ".center(INNER + 2, "≈")
        self.lines.append(f"{middle} {self._marks(gap)}".rstrip())
        if gap.below:
            self.lines.append(gap.below.center(INNER + 2).rstrip())


def _gap_text(gap: Gap) -> str:
    where = "unmapped" if gap.user else "not user space"
    return f"{human_size(gap.size)} {where}"


def _band_text(band: Band) -> str:
    """`` label          size  perms``, the label shortened to fit."""
    suffix = f" ×{band.count}" if band.count > 1 and not band.detail else ""
    label = shorten(band.label, _LABEL - len(suffix)) + suffix
    return f" {label:<{_LABEL}} {human_size(band.size):>10}  {band.perms:<4}"


def shorten(label: str, room: int) -> str:
    """``label`` in at most ``room`` characters: a path's last part, then cut with ``…``."""
    if len(label) <= room:
        return label
    if label.startswith("/"):
        label = label.rsplit("/", 1)[-1]
    return label if len(label) <= room else label[: room - 1] + "…"
