"""The picture in a Jupyter notebook: a machine, a process, a block of calls.

``Machine._repr_html_`` and ``Process._repr_html_`` call :func:`machine_html`
and :func:`process_html`.  :func:`steps` records a block of Python calls::

    with mmapsim.viz.steps(m) as s:
        p = m.spawn("A")
        va = p.mmap(None, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        p.store(va, b"hello")
    s          # the step-through of those three calls, inline

Each call of a :class:`~mmapsim.process.Process` of that machine (and the
machine's ``spawn``, ``write_file`` and ``sync``) is one step.  The page is the
same as ``mmapsim run --html`` writes, put in an ``<iframe srcdoc>`` so that
its script and style stay apart from the notebook's and from other outputs.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmapsim.events import Event
from mmapsim.viz.page import escape, render_page, write_html
from mmapsim.viz.record import Recording, StepRecord, event_json
from mmapsim.viz.tracker import Tracker

if TYPE_CHECKING:
    from mmapsim.machine import Machine
    from mmapsim.process import Process

#: The calls of a Process that make one step each.
PROCESS_CALLS = (
    "mmap", "munmap", "msync", "mprotect", "load", "store", "open", "close", "read",
    "write", "pread", "pwrite", "lseek", "ftruncate", "fsync", "unlink", "pipe", "chmod",
    "fstat", "fork", "exit", "execve", "brk", "sbrk",
)  # fmt: skip
MACHINE_CALLS = ("spawn", "write_file", "sync")


def iframe(page: str, height: int = 720) -> str:
    """``page`` inside an iframe (its own document), as a notebook shows it."""
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;height:{height}px;border:1px solid #ccc" '
        'title="mmapsim step-through"></iframe>'
    )


def _names(machine: Machine) -> dict[int, str]:
    return {p.pid: p.name for p in machine.processes}


def machine_html(machine: Machine) -> str:
    """The machine now: the step-through page with no step, in an iframe."""
    tracker = Tracker(machine)
    recording = Recording("", "the machine now", tracker.update(_names(machine)), [])
    return iframe(render_page(recording), 560)


def process_html(process: Process) -> str:
    """One process: its mappings as maps shows them, with kind and present pages."""
    from mmapsim.viz.snapshot import snapshot

    state = snapshot(process.machine, _names(process.machine))
    found = [p for p in state["procs"] if p["pid"] == process.pid]
    title = f"<b>{escape(process.name)}</b> pid {process.pid}"
    if not found:
        return f"<div>{title}: not alive</div>"
    rows = "".join(
        "<tr>"
        f"<td>{escape(v['kind'])}</td><td>{escape(v['role'])}</td>"
        f"<td><code style='white-space:pre'>{escape(v['maps'])}</code></td>"
        f"<td>{len(v['pages'])}</td>"
        f"<td>{' '.join(hex(pg[1]) for pg in v['pages'][:8])}</td>"
        "</tr>"
        for v in reversed(found[0]["vmas"])
    )
    return (
        f"<div class='mmapsim-process'>{title}<table>"
        "<thead><tr><th>kind</th><th>role</th><th>maps</th><th>present</th>"
        "<th>frames</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def _argument(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0xFFFF:
        return hex(value)
    if isinstance(value, bytes) and len(value) > 24:
        return repr(value[:24])[:-1] + "...'"
    return repr(value)


class Steps:
    """The steps recorded by :func:`steps`; shows itself as the step-through page."""

    def __init__(self, machine: Machine, title: str) -> None:
        self.machine = machine
        self.title = title
        self.tracker = Tracker(machine)
        self.initial = self.tracker.update(_names(machine))
        self.records: list[StepRecord] = []
        self.events: list[Event] = []
        self.depth = 0

    @property
    def recording(self) -> Recording:
        """The recorded steps, as the page writer takes them."""
        return Recording("", self.title, self.initial, list(self.records))

    def add(self, who: str | None, source: str, result: list[str], failed: bool) -> None:
        """Keep one step: what was called, what it gave, and what changed."""
        names = _names(self.machine)
        delta = self.tracker.update(names)
        events = [event_json(e, names) for e in self.events]
        self.events.clear()
        number = len(self.records) + 1
        self.records.append(StepRecord(number, who, source, result, events, delta, failed))

    def write_html(self, path: str | Path) -> Path:
        """Write the page to ``path``."""
        return write_html(self.recording, path)

    def _repr_html_(self) -> str:
        return iframe(render_page(self.recording))

    def __len__(self) -> int:
        return len(self.records)


def _wrap(steps: Steps, owner: str, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        machine = self if owner == "machine" else self.machine
        if machine is not steps.machine or steps.depth:
            return call(self, *args, **kwargs)
        who = None if owner == "machine" else self.name
        shown = ", ".join(
            [_argument(a) for a in args] + [f"{k}={_argument(v)}" for k, v in kwargs.items()]
        )
        source = f"{'m' if owner == 'machine' else self.name}.{name}({shown})"
        steps.depth += 1
        try:
            value = call(self, *args, **kwargs)
        except Exception as err:
            steps.depth -= 1
            steps.add(who, source, [f"{type(err).__name__}: {err}"], True)
            raise
        steps.depth -= 1
        shown_value = [] if value is None else [f"→ {_argument(value)}"]
        steps.add(who, source, shown_value, False)
        return value

    return wrapper


@contextmanager
def steps(machine: Machine, title: str = "steps") -> Iterator[Steps]:
    """Record every call on ``machine`` and its processes inside the block as a step."""
    from mmapsim.machine import Machine as MachineClass
    from mmapsim.process import Process as ProcessClass

    if not isinstance(machine, MachineClass):
        raise TypeError("steps() records a simulated Machine")
    recorder = Steps(machine, title)
    saved: list[tuple[type[Any], str, Any]] = []
    targets: list[tuple[type[Any], str, tuple[str, ...]]] = [
        (ProcessClass, "process", PROCESS_CALLS),
        (MachineClass, "machine", MACHINE_CALLS),
    ]
    for cls, owner, names in targets:
        for name in names:
            original = cls.__dict__[name]
            saved.append((cls, name, original))
            setattr(cls, name, _wrap(recorder, owner, name, original))
    unsubscribe = machine.events.subscribe(recorder.events.append)
    try:
        yield recorder
    finally:
        unsubscribe()
        for cls, name, original in saved:
            setattr(cls, name, original)
