"""Comparing two runs of a scenario by what a program can observe.

Two kernels place mappings at different addresses (the real one randomizes
them), so an address is never compared as a number: it is written relative to
the mapping of its process that contains it, as ``mapping 2 + 0x1000``, where
mappings are numbered in the order the scenario's mmap calls made them.  Numbers,
bytes, errno names, signals and whether each ``expect`` held are compared
exactly; the output of ``show file`` too.  Process layouts (``show maps``,
``smaps``, ``pages``, ``layout``, ``vars``) differ by nature and are not compared.
"""

from __future__ import annotations

import errno as errno_module
from dataclasses import dataclass, field

from mmapsim.constants import PAGE_SIZE
from mmapsim.scenario.runner import StepResult
from mmapsim.scenario.syntax import Fork, Show, Sync
from mmapsim.scenario.values import MAP_FAILED_VALUE, Addr, Frame, Stat, Value, format_value

_Region = tuple[int, int, int]  # start, end, number


@dataclass
class Observer:
    """Turns the results of one run into comparable text, step by step."""

    regions: dict[str, list[_Region]] = field(default_factory=dict)
    count: int = 0
    frames: dict[int, int] = field(default_factory=dict)

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
            parts.append(_shown(result))
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
            if call.name != "mmap" or call.errno is not None or call.process is None:
                continue
            assert isinstance(call.result, int)
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
        return format_value(value)


def _shown(result: StepResult) -> str:
    step = result.step
    assert isinstance(step, Show)
    if step.kind == "file":
        return result.output or ""
    return f"(show {step.kind} is not compared)"


@dataclass(frozen=True, slots=True)
class StepDiff:
    """One step on both kernels: what each observed, and whether they agree."""

    line: int
    left: str
    right: str

    @property
    def same(self) -> bool:
        return self.left == self.right
