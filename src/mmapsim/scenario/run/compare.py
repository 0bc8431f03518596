"""Comparing two runs of a scenario by what a program can observe.

Two kernels place mappings at different addresses (the real one randomizes
them), so an address is never compared as a number: it is written relative to
the mapping of its process that contains it, as ``mapping 2 + 0x1000``, where
mappings are numbered in the order the scenario's mmap calls made them.  Numbers,
bytes, errno names, signals and whether each ``expect`` held are compared
exactly; the output of ``show file`` too.

``show maps``, ``smaps`` and ``pages`` are compared over the scenario's own
mappings only (a real process has many of its own: a HostMachine worker is a
Python interpreter), each VMA clipped to them, with addresses made relative and
without device and inode numbers; smaps with every counter and VmFlags; a page
table with frames named by the order they first appear; ``show frame`` so too,
its mappers' addresses relative; ``show cache`` but for the disk's bytes under a
dirty page, which HostMachine cannot read.  (Linux maps file data in large
folios, which the simulator does not: docs/deviations.md.)
``show layout`` and ``vars`` print raw addresses and are not compared.
"""

from __future__ import annotations

import errno as errno_module
import re
from dataclasses import dataclass, field

from mmapsim.constants import PAGE_SIZE
from mmapsim.scenario.lang.ipc_values import Pid, ShmDs, relative_pid
from mmapsim.scenario.lang.syntax import Fork, Show, Sync
from mmapsim.scenario.lang.values import MAP_FAILED_VALUE, Addr, Frame, Stat, Value, format_value
from mmapsim.scenario.run.runner import StepResult

_Region = tuple[int, int, int]  # start, end, number


@dataclass
class Observer:
    """Turns the results of one run into comparable text, step by step."""

    regions: dict[str, list[_Region]] = field(default_factory=dict)
    count: int = 0
    frames: dict[int, int] = field(default_factory=dict)
    segments: dict[int, int] = field(default_factory=dict)  # shmid -> size

    def observe(self, result: StepResult) -> str:
        """What a program could observe of this step, addresses made relative."""
        self._learn(result)
        process = result.step.process
        parts = []
        if result.bindings:
            parts.append(", ".join(f"{n} = {self.value(v, process)}" for n, v in result.bindings))
        elif result.value is not None:
            parts.append(self.value(result.value, process))
        if result.errno:
            parts.append(errno_module.errorcode.get(result.errno, str(result.errno)))
        if result.killed is not None:
            where = self.address(result.killed.addr, result.killed.process)
            parts.append(f"killed by {result.killed.signal} at {where}")
        if result.expect is not None:
            parts.append("expect holds" if result.expect.ok else "expect FAILED")
        if isinstance(result.step, Show):
            parts.append(_shown(self, result))
        if result.skipped is not None:
            parts.append("skipped")
        if isinstance(result.step, Sync):
            parts.append("sync")  # how many pages: Linux's folios hold several
        elif result.note is not None:
            parts.append(result.note)
        return "; ".join(parts)

    def _learn(self, result: StepResult) -> None:
        """Number the mappings this step made; a child inherits its parent's."""
        step = result.step
        if isinstance(step, Fork):
            self.regions[step.child] = list(self.regions.get(step.parent, []))
        for call in result.calls:
            if call.name == "shmget" and call.errno is None and isinstance(call.result, int):
                self.segments[call.result] = int(call.args[1])
            if call.name not in ("mmap", "shmat") or call.errno is not None:
                continue
            if call.process is None:
                continue
            assert isinstance(call.result, int)
            if call.name == "shmat":
                length = self.segments.get(int(call.args[0]), PAGE_SIZE)
            else:
                length = int(call.args[1])
            end = call.result + (length + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
            self.count += 1
            self.regions.setdefault(call.process, []).append((call.result, end, self.count))

    def address(self, addr: int, process: str | None) -> str:
        """``mapping N + off`` for an address inside a mapping of ``process``."""
        if addr == MAP_FAILED_VALUE:
            return "MAP_FAILED"
        if addr == 0:
            return "NULL"
        for start, end, number in reversed(self.regions.get(process or "", [])):
            if start <= addr < end:
                return f"mapping {number} + {addr - start:#x}"
        return "an address outside the scenario's mappings"

    def value(self, value: Value, process: str | None) -> str:
        """A value, with addresses relative."""
        if isinstance(value, Addr):
            return self.address(int(value), process)
        if isinstance(value, Frame):
            number = self.frames.setdefault(int(value), len(self.frames) + 1)
            return "no frame" if value < 0 else f"frame #{number}"
        if isinstance(value, Stat):
            return f"st_size = {value.st_size}"
        if isinstance(value, ShmDs):
            return value.shown(relative_pid)
        if isinstance(value, Pid):
            return relative_pid(value)
        if isinstance(value, tuple):
            shown = (relative_pid(v) if isinstance(v, Pid) else format_value(v) for v in value)
            return "(" + ", ".join(shown) + ")"
        return format_value(value)


_MAPS_LINE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+ ?(.*)$")
_FRAME_HEAD = re.compile(
    r"^(pfn 0x[0-9a-f]+|a frame \(its number is hidden\)), behind (\S+)'s page (0x[0-9a-f]+)$"
)
_MAPPER = re.compile(r"(\S+) at (0x[0-9a-f]+)")
_PAGE_LINE = re.compile(r"^0x([0-9a-f]+)  (.*)$")


def _merged(regions: list[_Region]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for start, end, _ in sorted(regions):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


class ShowView:
    """``show maps``/``smaps``/``pages`` output made comparable (see the module)."""

    def __init__(self, observer: Observer, process: str | None) -> None:
        self.observer = observer
        self.process = process
        self.own = _merged(observer.regions.get(process or "", []))

    def clip(self, start: int, end: int) -> list[str]:
        """``[start, end)`` cut to the scenario's mappings, as relative spans."""
        out = []
        for lo, hi in self.own:
            a, b = max(start, lo), min(end, hi)
            if a < b:
                first = self.observer.address(a, self.process)
                last = self.observer.address(b - 1, self.process)
                out.append(f"{first} .. {last}")
        return out

    def maps_line(self, line: str) -> tuple[list[str], str]:
        """The relative spans of one maps line and what it says but where it is."""
        match = _MAPS_LINE.match(line)
        if match is None:
            return [], ""
        start, end, perms, offset, name = match.groups()
        spans = self.clip(int(start, 16), int(end, 16))
        return spans, f"{perms} {offset} {name.strip()}".rstrip()

    def maps(self, text: str) -> str:
        lines = []
        for line in text.splitlines():
            spans, what = self.maps_line(line)
            lines += [f"{span} {what}" for span in spans]
        return "\n".join(lines) or "(none of the scenario's mappings)"

    def smaps(self, text: str) -> str:
        lines: list[str] = []
        keep = False
        for line in text.splitlines():
            spans, what = self.maps_line(line)
            if what:
                keep = bool(spans)
                lines += [f"{span} {what}" for span in spans]
            elif keep:
                lines.append(" ".join(line.split()))
        return "\n".join(lines) or "(none of the scenario's mappings)"

    def frame(self, text: str) -> str:
        """``show frame``: the frame named by its order of appearance, the page relative."""
        head, _, rest = text.partition("\n")
        match = _FRAME_HEAD.match(head)
        if match is not None:
            pfn, who, page = match.groups()
            frame = "a frame"
            if pfn.startswith("pfn "):
                frames = self.observer.frames
                frame = f"frame #{frames.setdefault(int(pfn[4:], 16), len(frames) + 1)}"
            head = f"{frame}, behind {who}'s page {self.observer.address(int(page, 16), who)}"
        elif head.startswith("0x") and ":" in head:
            addr, _, what = head.partition(":")
            head = f"{self.observer.address(int(addr, 16), self.process)}:{what}"
        lines = [head]
        for line in rest.splitlines():
            if line.startswith("mapped by: "):
                line = _MAPPER.sub(
                    lambda m: f"{m[1]} at {self.observer.address(int(m[2], 16), m[1])}", line
                )
            lines.append(line)
        return "\n".join(lines)

    def pages(self, text: str) -> str:
        lines = []
        for line in text.splitlines():
            match = _PAGE_LINE.match(line)
            if match is None:
                lines.append(line)
                continue
            va, rest = int(match[1], 16), match[2]
            where = self.observer.address(va, self.process)
            if rest.startswith("present"):
                fields = rest.split("  ")
                pfn = fields[1].split()[-1] if len(fields) > 1 else ""
                frame = "hidden"
                if pfn.startswith("0x"):
                    number = self.observer.frames.setdefault(
                        int(pfn, 16), len(self.observer.frames) + 1
                    )
                    frame = f"#{number}"
                lines.append(f"{where}  present  frame {frame}  {'  '.join(fields[2:])}")
            else:
                lines.append(f"{where}  {rest}")
        return "\n".join(lines)


def _shown(observer: Observer, result: StepResult) -> str:
    step = result.step
    assert isinstance(step, Show)
    text = result.output or ""
    if step.kind == "file" or text.startswith(("(process ", "(no mapping")):
        return text
    if step.kind == "cache":
        return _cache(text)
    view = ShowView(observer, step.target)
    if step.kind == "maps":
        return view.maps(text)
    if step.kind == "smaps":
        return view.smaps(text)
    if step.kind == "pages":
        return view.pages(text)
    if step.kind == "frame":
        return view.frame(text)
    return f"(show {step.kind} is not compared)"


def _cache(text: str) -> str:
    """``show cache``, but the disk's bytes under a dirty page, which HostMachine
    cannot read (docs/deviations.md)."""
    lines, dirty = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("disk:") and dirty:
            continue
        dirty = " dirty " in line
        lines.append(line)
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class StepDiff:
    """One step on both kernels: what each observed, and whether they agree."""

    line: int
    left: str
    right: str

    @property
    def same(self) -> bool:
        return self.left == self.right
