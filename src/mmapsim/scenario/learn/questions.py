"""Questions of ``mmapsim quiz``: what an ``ask`` asks, its answer, and whether a guess is it.

An ``ask`` runs its inner step as any step runs; the answer is what the step
did, in the terms a student predicts:

* ``ask expect COND`` and ``ask A == B``: **yes** or **no**, does it hold;
* ``ask CALL`` (``ask msync(p, 4096, MS_SYNC)``): what it returns, ``0`` or
  ``-1 EINVAL`` (``MAP_FAILED ENOMEM`` for mmap);
* ``ask LOAD`` (``ask q[0:5]``): the bytes or the number read, or the signal
  that kills the process;
* ``ask STORE`` (``ask p[0] = "x"``): ``no signal``, or the signal.

A guess is typed as the language writes values (``"HELLO"``, ``0x41``,
``-1 EINVAL``, ``SIGSEGV``); bytes may be typed bare (``HELLO``).  With
``among A, B, C`` the student may type the number of a choice.
"""

from __future__ import annotations

import ast
import errno as errno_module
from dataclasses import dataclass
from typing import cast

from mmapsim.contract import MachineAPI
from mmapsim.scenario.lang.allowed_python import check_expr
from mmapsim.scenario.lang.calls import CALLS, Returns
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.lexer import scan_line
from mmapsim.scenario.lang.pyparse import parse_expr
from mmapsim.scenario.lang.syntax import Ask, Do, Expect
from mmapsim.scenario.lang.values import Addr, Frame, Value, equal, format_value
from mmapsim.scenario.run.evaluator import Evaluator
from mmapsim.scenario.run.runner import StepResult

_YES = {"yes", "y", "true", "holds", "1", "it holds", "oui", "ja"}
_NO = {"no", "n", "false", "0", "fails", "it fails", "does not hold", "non", "nein"}
_NO_SIGNAL = {"no signal", "none", "nothing", "ok", "fine", "works", "it works", "stored"}


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to one question: how it is shown, and what it is made of."""

    kind: str  # "yesno", "signal", "errno", "value", "done"
    text: str  # as shown: yes, -1 EINVAL, "HELLO", killed by SIGSEGV
    value: Value | bool | str | None = None  # the value (or True/False) a guess is compared to
    why: str | None = None  # the one-line why: the ask's comment, else what was seen


def question_text(ask: Ask) -> str:
    """What the question asks, in words."""
    inner = ask.inner
    if isinstance(inner, Expect):
        return "does this hold? (yes or no)"
    assert isinstance(inner, Do)
    stmt = inner.stmt
    value = stmt.value if isinstance(stmt, ast.Assign | ast.Expr) else None
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript):
        return "what happens? (no signal, or the signal that kills the process)"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        if CALLS[value.func.id].in_process:
            return "what does it return? (a value, or -1 and the errno)"
        return "what is its value?"
    if isinstance(value, ast.Subscript):
        return "what does it read? (or which signal kills the process)"
    return "what is its value?"


def answer_of(result: StepResult) -> Answer:
    """The answer the run gave to the question of ``result``."""
    ask = result.asked
    why = ask.comment if ask is not None else None
    if result.skipped is not None:
        return Answer("skipped", f"not asked: {result.skipped}", None, why)
    if result.expect is not None:
        ok = result.expect.ok
        seen = result.expect.message  # what was seen; a condition that held only restates itself
        plain = ok and isinstance(result.step, Expect) and result.step.mode == "holds"
        return Answer("yesno", "yes" if ok else "no", ok, why or (None if plain else seen))
    if result.killed is not None:
        death = result.killed
        return Answer("signal", f"killed by {death.signal}", death.signal, why or death.reason)
    if result.errno is not None and result.call_value:
        name = errno_module.errorcode.get(result.errno, str(result.errno))
        failed = next((c for c in reversed(result.calls) if c.errno is not None), None)
        returns = CALLS[failed.name].returns if failed is not None else Returns.INT
        head = "MAP_FAILED" if returns is Returns.ADDR else "-1"
        return Answer("errno", f"{head} {name}", name, why)
    step = result.step
    stmt = step.stmt if isinstance(step, Do) else None
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript):
        return Answer("done", "no signal (the store is done)", None, why)
    value = result.bindings[-1][1] if result.bindings else result.value
    return Answer("value", format_value(value), value, why)


def is_right(answer: Answer, guess: str, choices: list[Value]) -> bool:
    """Whether the student's ``guess`` (typed, or a choice's number) is the answer."""
    typed = guess.strip()
    if choices and typed.isdigit() and 1 <= int(typed) <= len(choices):
        return _value_is(answer, choices[int(typed) - 1], format_value(choices[int(typed) - 1]))
    if not typed or answer.kind == "skipped":
        return False
    lowered = " ".join(typed.lower().split())
    if answer.kind == "yesno":
        return (lowered in _YES) if answer.value else (lowered in _NO)
    if answer.kind == "done":
        return lowered in _NO_SIGNAL or lowered.startswith("no signal")
    if answer.kind == "signal":
        return _signal_of(lowered) == answer.value
    if answer.kind == "errno":
        words = typed.upper().replace(",", " ").split()
        return str(answer.value) in words
    return _value_is(answer, _parse_guess(typed), typed)


def _value_is(answer: Answer, guessed: Value | None, typed: str) -> bool:
    if answer.kind == "yesno":
        return _truth(guessed, typed) is answer.value
    if answer.kind in ("signal", "errno", "done"):
        return is_right(answer, typed, [])
    if guessed is None:
        return False
    expected = answer.value
    if isinstance(expected, Frame) and isinstance(guessed, int):
        return int(guessed) == int(expected) or (expected < 0 and guessed < 0)
    if expected is None or isinstance(expected, bool | str):
        return False
    if isinstance(expected, bytes) and isinstance(guessed, bytes):
        return expected == guessed or expected.rstrip(b"\0") == guessed
    return equal(expected, guessed)


def _truth(guessed: Value | None, typed: str) -> bool | None:
    lowered = typed.strip().strip("\"'").lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    return None if guessed is None else bool(guessed)


def _signal_of(lowered: str) -> str | None:
    for word in lowered.replace(",", " ").split():
        name = word.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        if name in ("SIGSEGV", "SIGBUS", "SIGKILL"):
            return name
        if word in ("segfault", "segmentation"):
            return "SIGSEGV"
    return None


def _parse_guess(typed: str) -> Value | None:
    """A typed value: an expression of the language (constants, strings), or bare bytes."""
    lowered = typed.lower()
    if lowered in ("no frame", "none", "-1"):
        return Frame(-1) if lowered != "-1" else -1
    if lowered.startswith("pfn "):
        typed = typed[4:]
    try:
        scanned = scan_line(typed, 1)
        expr = parse_expr(scanned, 0, len(scanned.code))
        check_expr(expr, 1)
        value = Evaluator(cast(MachineAPI, _NoMachine()), None, {}, 1).eval(expr)
    except (ScenarioError, SyntaxError, ValueError):
        return typed.encode()
    if isinstance(value, Addr | Frame):
        return int(value)
    return value


class _NoMachine:
    """A guess is evaluated without a machine: a call in it is no value."""

    def __getattr__(self, name: str) -> object:
        raise ScenarioError("a guess cannot make calls", 1, 1)
