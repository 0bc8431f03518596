"""The parsed form of a scenario: a list of steps, each from one source line.

Expressions stay Python :mod:`ast` nodes (checked against the language's subset
by the parser); their ``col_offset`` has been rewritten to the 0-based character
column in the source line, so any node can be reported as ``line:col``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

ExpectMode = Literal["holds", "fails", "kills"]


@dataclass(frozen=True, slots=True)
class Step:
    """What every step has: its line, its code (from column ``col``), comment and label."""

    line: int
    col: int
    source: str
    comment: str | None
    process: str | None

    def text_of(self, node: ast.AST) -> str:
        """The source text of ``node``, as the author wrote it."""
        start = getattr(node, "col_offset", self.col) - self.col
        end = getattr(node, "end_col_offset", None)
        if end is None or not 0 <= start < end - self.col <= len(self.source):
            return ast.unparse(node)
        return self.source[start : end - self.col]


@dataclass(frozen=True, slots=True)
class Note:
    """A line with only a comment (narration), or a blank line (``text`` is None)."""

    line: int
    text: str | None


@dataclass(frozen=True, slots=True)
class Spawn(Step):
    """``A:`` alone on its line: process A starts (any first labelled line starts it too)."""


@dataclass(frozen=True, slots=True)
class Do(Step):
    """A call, an assignment, a load or a store: ``A: p = mmap(...)``, ``A: p[0] = "x"``."""

    stmt: ast.stmt


@dataclass(frozen=True, slots=True)
class Expect(Step):
    """``expect COND``, ``expect STMT fails ERRNO`` or ``expect STMT kills SIGNAL``."""

    action: ast.stmt
    mode: ExpectMode
    code: str | None = None
    code_col: int = 0


@dataclass(frozen=True, slots=True)
class Show(Step):
    """``show maps A``, ``show pages A p, 8192``, ``show file /tmp/f``, ..."""

    kind: str
    target: str | None
    args: tuple[ast.expr, ...] = ()
    path: str | None = None


@dataclass(frozen=True, slots=True)
class FileSetup(Step):
    """``file /tmp/f "bytes"``: the file is (re)written from outside every process."""

    path: str
    data: ast.expr


@dataclass(frozen=True, slots=True)
class Sleep(Step):
    """``sleep 35``: simulated time passes; the kernel's timers (writeback) run."""

    ns: int


@dataclass(frozen=True, slots=True)
class Fork(Step):
    """``C = fork(A)``: C is a new process, a copy of A."""

    child: str
    parent: str


@dataclass(frozen=True, slots=True)
class Sync(Step):
    """``sync``: sync(2), every dirty page of every file is written to its disk."""


@dataclass(frozen=True, slots=True)
class Crash(Step):
    """``crash``: a power failure; every process dies and the page cache is lost."""


@dataclass(frozen=True, slots=True)
class Ask(Step):
    """``ask STEP [among CHOICE, ...]``: a question for ``mmapsim quiz``.

    ``inner`` is the step whose outcome is the answer: a ``Do`` (what does this
    call return, what does this load read, does this store kill?) or an
    ``Expect`` (``ask expect ...``, and ``ask A == B``: does it hold?).  The
    line's comment is the one-line *why*, shown after the answer.
    """

    inner: Step
    choices: tuple[ast.expr, ...] = ()


@dataclass(slots=True)
class Scenario:
    """A whole scenario file."""

    path: str
    items: list[Step | Note] = field(default_factory=list)
    #: The lines after ``recover:``: what runs on a machine booted after a crash.
    recovery: list[Step | Note] | None = None
    recover_line: int | None = None

    def recovery_scenario(self) -> Scenario | None:
        """The recovery section as a scenario of its own (None when there is none)."""
        if self.recovery is None:
            return None
        return Scenario(self.path, list(self.recovery))

    @property
    def steps(self) -> list[Step]:
        """The steps alone, without notes."""
        return [item for item in self.items if isinstance(item, Step)]

    @property
    def title(self) -> str | None:
        """The first comment of the file, if the file starts with one."""
        for item in self.items:
            if isinstance(item, Note) and item.text:
                return item.text
            if isinstance(item, Step):
                return None
        return None
