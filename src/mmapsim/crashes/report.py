"""What ``mmapsim crashes`` prints: a summary, then each failing crash state, briefly.

A failing state is shown by the moment of the crash (the step after which, or
the page write after which, the power failed), the dirty pieces that reached
the disk and those that did not, and what the recovery's checks saw.  The same
as JSON for programs (``--json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from mmapsim.crashes.points import FirstPart, Problem
from mmapsim.crashes.states import CrashState, Piece, Plan


@dataclass
class Exploration:
    """Everything one exploration found."""

    path: str
    torn: bool
    first: FirstPart
    plan: Plan
    verdicts: list[list[Problem]] = field(default_factory=list)

    @property
    def failing(self) -> list[tuple[CrashState, list[Problem]]]:
        """The states whose recovery found a problem, with the problems."""
        return [(s, v) for s, v in zip(self.plan.states, self.verdicts, strict=True) if v]

    @property
    def fails_without_crash(self) -> bool:
        """Whether the disk of a clean end (every dirty page written) fails the checks too."""
        if not self.first.points:
            return False
        last = self.first.points[-1]
        key = last.image(range(len(last.pieces))).key()
        return any(state.key == key for state, _ in self.failing)

    @property
    def broken(self) -> bool:
        """Whether any check failed: in a crash state, or in the first part itself."""
        return bool(self.failing or self.first.problems)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _pieces(pieces: list[Piece]) -> str:
    return ", ".join(p.describe() for p in pieces) if pieces else "nothing"


def scope_lines(found: Exploration) -> list[str]:
    """How many points and states there were, and how many were checked."""
    plan = found.plan
    unit = "512-byte sectors (--torn)" if found.torn else "whole pages"
    steps = _plural(len(found.first.results), "step")
    points = _plural(found.first.moments, "crash point")
    lines = [f"{steps}, {points}; dirty data reaches the disk in {unit}"]
    if plan.distinct is not None and not plan.sampled:
        lines.append(
            f"{_plural(plan.distinct, 'distinct crash state')} "
            f"(of {plan.candidates} before deduplication), all checked"
        )
    elif plan.distinct is not None:
        lines.append(
            f"{plan.distinct} distinct crash states: {len(plan.states)} checked, drawn with "
            f"seed {plan.seed} (--max-states {plan.budget}; raise it to check them all)"
        )
    else:
        lines.append(
            f"more crash states than can be listed "
            f"({_count(plan.candidates)} subsets of dirty data): "
            f"{len(plan.states)} distinct ones checked, drawn with seed {plan.seed} "
            f"(--max-states {plan.budget}); a failing state may have been missed"
        )
    return lines


def _count(n: int) -> str:
    """A count as a reader can take it in: 4097, or about 2**256."""
    return str(n) if n < 10**9 else f"about 2**{n.bit_length() - 1}"


def state_lines(number: int, state: CrashState, problems: list[Problem]) -> list[Text]:
    """One failing state, in a few lines."""
    lines = [Text(f"{number}. power failure {state.point.label}", style="bold")]
    if state.point.pieces:
        lines.append(Text(f"     on the disk:     {_pieces(state.reached)}"))
        lines.append(Text(f"     not on the disk: {_pieces(state.missed)}"))
    else:
        lines.append(Text("     no page was dirty: the disk as that step left it"))
    lines += [Text(f"     ✗ {p.describe()}", style="red") for p in problems]
    return lines


def text_report(found: Exploration, show: int = 0) -> list[Text]:
    """The whole report, as lines: at most ``show`` failing states in full (0: all)."""
    lines = [Text(f"== {found.path}: crash states ==", style="bold")]
    lines += [Text(line) for line in scope_lines(found)]
    for problem in found.first.problems:
        lines.append(Text(f"✗ before any crash: {problem.describe()}", style="bold red"))
    failing = found.failing
    checked = len(found.plan.states)
    if not failing:
        verdict = "no crash state breaks the recovery's checks"
        if found.plan.sampled:
            verdict = f"none of the {checked} crash states checked breaks the recovery's checks"
        lines.append(Text(f"✓ {verdict}", style="green"))
        return lines
    lines.append(
        Text(
            f"✗ {len(failing)} of {checked} crash states checked "
            f"{'breaks' if len(failing) == 1 else 'break'} the recovery's checks:",
            style="bold red",
        )
    )
    shown = failing if show <= 0 else failing[:show]
    for number, (state, problems) in enumerate(shown, start=1):
        lines.append(Text(""))
        lines += state_lines(number, state, problems)
    if len(shown) < len(failing):
        lines.append(Text(""))
        more = len(failing) - len(shown)
        lines.append(
            Text(f"... and {more} more failing states (--show 0 or --json lists them all)")
        )
    if found.fails_without_crash:
        lines.append(Text(""))
        lines.append(
            Text(
                "(the disk of a clean end, every dirty page written, fails too: "
                "is the recovery section's check right?)",
                style="yellow",
            )
        )
    return lines


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {"line": problem.line, "source": problem.source, "message": problem.message}


def _piece_json(piece: Piece) -> dict[str, Any]:
    return {"path": piece.path, "page": piece.pgoff, "sector": piece.sector}


def json_report(found: Exploration) -> dict[str, Any]:
    """The report as JSON-ready data."""
    plan = found.plan
    return {
        "path": found.path,
        "torn": found.torn,
        "steps": len(found.first.results),
        "points": found.first.moments,
        "states": {
            "candidates": plan.candidates,
            "distinct": plan.distinct,
            "checked": len(plan.states),
            "sampled": plan.sampled,
            "seed": plan.seed,
            "budget": plan.budget,
        },
        "first_part_problems": [_problem_json(p) for p in found.first.problems],
        "failing": [
            {
                "point": {"line": state.point.line, "label": state.point.label},
                "reached": [_piece_json(p) for p in state.reached],
                "missed": [_piece_json(p) for p in state.missed],
                "problems": [_problem_json(p) for p in problems],
            }
            for state, problems in found.failing
        ],
        "fails_without_crash": found.fails_without_crash,
        "ok": not found.broken,
    }
