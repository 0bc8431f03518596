"""Printing a run: each step with what it returned, in colour on a terminal.

The same lines are produced whether or not there is colour; colour is only
styling (rich), so output piped to a file is plain and stable, which is what the
golden files of the examples store.  :func:`to_json` gives the same facts to
machines.
"""

from __future__ import annotations

import ast
import errno as errno_module
import os
from collections.abc import Iterable
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from mmapsim.scenario.lang.ipc_values import SHM_FIELDS, ShmDs
from mmapsim.scenario.lang.syntax import Do, Expect, Note, Show, Step
from mmapsim.scenario.lang.values import Value, format_value
from mmapsim.scenario.learn.questions import answer_of
from mmapsim.scenario.run.runner import StepResult
from mmapsim.views.regions_draw import to_ascii

KERNELS = {"sim": "the simulated kernel", "host": "this computer's Linux kernel"}
_PALETTE = ("cyan", "magenta", "yellow", "blue", "green", "bright_red")
INDENT = " " * 8


def make_console(*, color: bool | None = None, file: IO[str] | None = None) -> Console:
    """A console that colours on a terminal (or when ``color``) and never wraps lines."""
    return Console(
        file=file,
        force_terminal=color,
        no_color=color is False,
        highlight=False,
        soft_wrap=True,
        emoji=False,
    )


class Printer:
    """Prints headers, narration, step results and summaries to a console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._colors: dict[str, str] = {}
        self._blank = True

    def emit(self, text: Text | str) -> None:
        """Print one line."""
        self.console.print(text)
        self._blank = not str(text).strip()

    def header(self, path: str, kernel: str) -> None:
        """The scenario's title line."""
        self.emit(Text(f"== {path} on {KERNELS.get(kernel, kernel)} ==", style="bold"))

    def note(self, note: Note) -> None:
        """Narration (a comment line), or one blank line for any run of blank lines."""
        if note.text is None:
            if not self._blank:
                self.emit("")
            return
        self.emit(Text(f"# {note.text}".rstrip(), style="italic dim"))

    def result(self, result: StepResult) -> None:
        """A step's source line, then what it did."""
        self.emit(self.source_line(result.asked or result.step))
        for line in result_lines(result, ascii_only=self.console.options.ascii_only):
            self.emit(line)

    def source_line(self, step: Step) -> Text:
        """``  12  A: p = mmap(...)   # comment``, the label coloured per process."""
        text = Text(f"{step.line:>4}  ", style="dim")
        if step.process is not None:
            text.append(f"{step.process}: ", style=f"bold {self._color(step.process)}")
        text.append(step.source)
        if step.comment:
            text.append(f"   # {step.comment}", style="dim")
        return text

    def _color(self, process: str) -> str:
        if process not in self._colors:
            self._colors[process] = _PALETTE[len(self._colors) % len(_PALETTE)]
        return self._colors[process]

    def summary(self, results: Iterable[StepResult]) -> None:
        """How many expects held."""
        self.emit(summary_text(list(results)))


def result_lines(result: StepResult, *, ascii_only: bool = False) -> list[Text]:
    """The lines under a step: its outcome, then any shown text and traced events.

    A ``show layout`` is drawn in ASCII when ``ascii_only`` (an output that
    cannot show Unicode, as rich decides from its encoding).
    """
    lines: list[Text] = []
    outcome = outcome_text(result)
    if outcome is not None:
        lines.append(Text(INDENT) + outcome)
    if result.output is not None:
        shown = result.output
        if ascii_only and isinstance(result.step, Show) and result.step.kind == "layout":
            shown = to_ascii(shown)
        lines.extend(Text(INDENT + "  " + line) for line in shown.splitlines())
    for event in result.events or ():
        lines.append(Text(f"{INDENT}  · {event}", style="dim"))
    return lines


def outcome_text(result: StepResult) -> Text | None:
    """One line saying what the step did (None for a plain ``show``)."""
    if result.skipped is not None:
        return Text(f"– skipped: {result.skipped}", style="yellow")
    if result.asked is not None:
        return Text(f"? answer: {answer_of(result).text}", style="cyan")
    if result.expect is not None:
        if result.expect.ok:
            return Text(f"✓ {result.expect.message}", style="green")
        return Text(f"✗ FAILED: {result.expect.message}", style="bold red")
    if result.killed is not None:
        death = result.killed
        text = f"✗ {death.process} killed by {death.signal} at {death.addr:#x}"
        return Text(f"{text}: {death.reason}" if death.reason else text, "bold red")
    if result.note is not None:
        return Text(f"→ {result.note}", style="blue")
    if isinstance(result.step, Show):
        return None
    return Text(f"→ {plain_outcome(result)}", style="yellow" if result.errno else "")


def plain_outcome(result: StepResult) -> str:
    """What a call, assignment, load or store gave, as text."""
    failure = _errno_text(result.errno) if result.call_value and result.errno else ""
    if result.bindings:
        shown = ", ".join(f"{name} = {format_value(value)}" for name, value in result.bindings)
        return shown + failure
    step = result.step
    if isinstance(step, Do) and isinstance(step.stmt, ast.AugAssign):
        return f"{step.text_of(step.stmt.target)} = {format_value(result.value)}"
    if isinstance(step, Do) and isinstance(step.stmt, ast.Assign):
        return ", ".join(
            f"{_count(size, 'byte')} stored at {addr:#x}" for addr, size in result.stores
        )
    return format_value(result.value) + failure


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _errno_text(code: int) -> str:
    name = errno_module.errorcode.get(code, str(code))
    return f" {name} ({os.strerror(code)})"


def summary_text(results: list[StepResult]) -> Text:
    """``N steps, M expects: all hold``, or what failed: expects, deaths, skipped lines."""
    expects = [r for r in results if isinstance(r.step, Expect) and r.asked is None]
    questions = sum(r.asked is not None for r in results)
    failed = [r for r in expects if r.failed]
    deaths = [r for r in results if r.failed and r.killed is not None and r.expect is None]
    skipped = [r for r in results if r.skipped is not None]
    head = f"{_count(len(results), 'step')}, {_count(len(expects), 'expect')}"
    if questions:
        head = head if expects else _count(len(results), "step")
        head += f", {_count(questions, 'question')}"
    tail = f", {len(skipped)} skipped" if skipped else ""
    if not failed and not deaths:
        return Text(f"{head}: all hold{tail}", style="bold green")
    tail = f"; {len(skipped)} skipped" if skipped else ""
    parts = []
    if failed:
        parts.append(f"{len(failed)} FAILED (line {', '.join(str(r.step.line) for r in failed)})")
    for r in deaths:
        assert r.killed is not None
        what = f"{r.killed.process} killed by {r.killed.signal} at line {r.step.line}"
        parts.append(f"unannounced death ({what})")
    return Text(f"{head}: {'; '.join(parts)}{tail}", style="bold red")


def to_json(path: str, kernel: str, results: list[StepResult]) -> dict[str, Any]:
    """The facts of a run, for machines."""
    steps = [_step_json(result) for result in results]
    failed = [s["line"] for s in steps if s["expect"] is not None and not s["expect"]["ok"]]
    deaths = [r.step.line for r in results if r.failed and r.killed is not None and not r.expect]
    return {
        "file": path,
        "kernel": kernel,
        "steps": steps,
        "failed_expects": failed,
        "unexpected_deaths": deaths,
        "ok": not any(r.failed for r in results),
    }


def _step_json(result: StepResult) -> dict[str, Any]:
    step = result.step
    death = result.killed
    return {
        "line": step.line,
        "process": step.process,
        "source": step.source,
        "kind": type(step).__name__.lower(),
        "value": _json_value(result.value),
        "bindings": {name: _json_value(value) for name, value in result.bindings},
        "errno": errno_module.errorcode.get(result.errno) if result.errno else None,
        "killed": None
        if death is None
        else {
            "process": death.process,
            "signal": death.signal,
            "addr": death.addr,
            "reason": death.reason,
            "expected": death.expected,
        },
        "skipped": result.skipped,
        "answer": None if result.asked is None else answer_of(result).text,
        "expect": None
        if result.expect is None
        else {"ok": result.expect.ok, "message": result.expect.message},
        "output": result.output,
        "note": result.note,
        "events": result.events,
    }


def _json_value(value: Value | None) -> Any:
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, ShmDs):
        return {name: int(getattr(value, name)) for name in SHM_FIELDS}
    return {"st_size": value.st_size, "st_mode": value.st_mode}
