"""Whether an ``expect`` held: comparisons, ``fails ERRNO`` and ``kills SIGNAL``.

Each judge returns an :class:`ExpectOutcome` that says, in words, what was seen.
"""

from __future__ import annotations

import ast
import errno as errno_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmapsim.scenario.lang.calls import CALLS, Returns
from mmapsim.scenario.lang.values import Value, equal, format_value
from mmapsim.scenario.run.evaluator import Evaluator

if TYPE_CHECKING:
    from mmapsim.scenario.run.runner import StepResult


@dataclass(frozen=True, slots=True)
class ExpectOutcome:
    """Whether an ``expect`` held, and what was seen, in words."""

    ok: bool
    message: str


def condition(
    evaluator: Evaluator, cond: ast.expr, text_of: Callable[[ast.AST], str]
) -> ExpectOutcome:
    """Evaluate an expect's condition; on failure say what each side was.

    Comparisons joined by ``and``/``or`` are evaluated left to right, stopping
    as C's ``&&`` and ``||`` stop; a failure names the values of every side
    that was evaluated and failed.
    """
    if isinstance(cond, ast.BoolOp):
        outcomes = []
        for part in cond.values:
            outcome = condition(evaluator, part, text_of)
            outcomes.append(outcome)
            if outcome.ok == isinstance(cond.op, ast.Or):
                break
        ok = outcomes[-1].ok
        seen = dict.fromkeys(o.message for o in outcomes if o.ok == ok)  # each once, in order
        return ExpectOutcome(ok, text_of(cond) if ok else "; ".join(seen))
    if not isinstance(cond, ast.Compare):
        value = evaluator.eval(cond)
        truthy = bool(value) if isinstance(value, int | bytes) else True
        what = f"{text_of(cond)} is {format_value(value)}"
        return ExpectOutcome(truthy, what)
    left_node, left = cond.left, evaluator.eval(cond.left)
    for op, right_node in zip(cond.ops, cond.comparators, strict=True):
        right = evaluator.eval(right_node)
        if not _compare(op, left, right):
            shown = f"{text_of(left_node)} is {format_value(left)}"
            if not isinstance(right_node, ast.Constant):
                shown += f", {text_of(right_node)} is {format_value(right)}"
            return ExpectOutcome(False, shown)
        left_node, left = right_node, right
    return ExpectOutcome(True, text_of(cond))


def _compare(op: ast.cmpop, left: Value, right: Value) -> bool:
    if isinstance(op, ast.Eq | ast.NotEq):
        return equal(left, right) == isinstance(op, ast.Eq)
    if not isinstance(left, int) or not isinstance(right, int):
        return False
    if isinstance(op, ast.Lt):
        return left < right
    if isinstance(op, ast.LtE):
        return left <= right
    if isinstance(op, ast.Gt):
        return left > right
    return left >= right


def judge_failure(result: StepResult, code: str) -> ExpectOutcome:
    """``expect ... fails ERRNO``."""
    if result.killed is not None:
        return ExpectOutcome(False, f"killed by {result.killed.signal}; expected -1 {code}")
    if result.errno is None:
        return ExpectOutcome(False, f"succeeded ({format_value(result.value)}); expected -1 {code}")
    name = errno_module.errorcode.get(result.errno, str(result.errno))
    if name != code and getattr(errno_module, code, None) != result.errno:
        return ExpectOutcome(False, f"failed with {name}; expected {code}")
    failed = [call for call in result.calls if call.errno is not None][-1]
    returned = "MAP_FAILED" if CALLS[failed.name].returns is Returns.ADDR else "-1"
    return ExpectOutcome(True, f"{failed.name} returned {returned}, errno {name}")


def judge_death(result: StepResult, code: str) -> ExpectOutcome:
    """``expect ... kills SIGNAL``."""
    death = result.killed
    if death is None:
        return ExpectOutcome(False, f"no signal; expected {code}")
    if death.signal != code:
        return ExpectOutcome(False, f"killed by {death.signal}; expected {code}")
    return ExpectOutcome(True, f"{death.process} killed by {death.signal} at {death.addr:#x}")
