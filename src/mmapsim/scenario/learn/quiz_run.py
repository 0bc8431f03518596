"""``mmapsim quiz``: run a scenario as a quiz, predictions first, answers after.

Every step runs and prints as in ``mmapsim run``, except the questions (``ask``
lines, and with ``ask_expects`` every ``expect``): the line is shown without
its comment, the student types a prediction (or a choice's number), and only
then does the step run; the answer, a one-line why and a running score follow.

On a terminal the prompt is rich's; otherwise one answer is read per line of
``stdin`` (tests and autograders), echoed so that the transcript reads well.
The exit status is 0 when every answer was right, 1 when one was not, 2 for a
scenario that cannot be read or run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import IO, Any

from rich.prompt import Prompt
from rich.text import Text

from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.syntax import Ask, Expect, Note, Scenario, Step
from mmapsim.scenario.lang.values import Addr, Frame, Value
from mmapsim.scenario.learn.questions import Answer, answer_of, is_right, question_text
from mmapsim.scenario.render import INDENT, Printer
from mmapsim.scenario.run.batch import (
    EXIT_BAD,
    EXIT_FAILED,
    EXIT_OK,
    KernelUnavailableError,
    Output,
    load,
    machine_for,
)
from mmapsim.scenario.run.runner import Runner, StepResult

Guesser = Callable[[str], str | None]  # the prompt -> the guess (None: no more input)


def as_questions(scenario: Scenario, ask_expects: bool) -> Scenario:
    """``scenario`` with every ``expect`` asked, when ``ask_expects``."""
    if not ask_expects:
        return scenario
    items: list[Step | Note] = []
    for item in scenario.items:
        if isinstance(item, Expect):
            fields = (item.line, item.col, item.source, item.comment, item.process)
            items.append(Ask(*fields, inner=dataclasses.replace(item, comment=None)))
        else:
            items.append(item)
    return Scenario(scenario.path, items)


def piped_guesser(stdin: IO[str], output: Output) -> Guesser:
    """Answers from ``stdin``, one a line, each echoed after its prompt."""

    def guess(prompt: str) -> str | None:
        line = stdin.readline()
        if not line:
            output.out.print(f"{prompt}(no answer)")
            return None
        answer = line.rstrip("\n")
        output.out.print(f"{prompt}{answer}")
        return answer

    return guess


def terminal_guesser(output: Output) -> Guesser:
    """Answers typed at rich's prompt; Ctrl-D or Ctrl-C ends the quiz."""

    def guess(prompt: str) -> str | None:
        try:
            return Prompt.ask(Text(prompt.rstrip().rstrip(":"), style="bold"), console=output.out)
        except (EOFError, KeyboardInterrupt):
            output.out.print()
            return None

    return guess


def run_quiz(
    path: str,
    output: Output,
    *,
    kernel: str,
    guesser: Guesser,
    ask_expects: bool = False,
    records: list[dict[str, Any]] | None = None,
) -> int:
    """Run ``path`` as a quiz on ``kernel``; the status as the module says.

    ``records``, when given, receives one dict per question (for ``--json``).
    """
    try:
        scenario = as_questions(load([path])[0], ask_expects)
    except ScenarioError as err:
        output.err.print(Text(str(err)))
        return EXIT_BAD
    printer = Printer(output.out)
    score = [0, 0]
    try:
        with machine_for(kernel) as machine:
            printer.header(scenario.path, kernel)
            pending = iter(Runner(machine).run(scenario))
            for item in scenario.items:
                if isinstance(item, Note):
                    printer.note(item)
                elif isinstance(item, Ask):
                    if not _question(item, pending, printer, guesser, score, records):
                        guesser = _no_more
                else:
                    printer.result(next(pending))
    except (ScenarioError, KernelUnavailableError) as err:
        output.err.print(Text(str(err)))
        return EXIT_BAD
    right, asked = score
    printer.emit("")
    if not asked:
        hint = "no questions here: mark some with ask, or run mmapsim quiz --expects FILE"
        printer.emit(Text(hint, style="bold"))
        return EXIT_OK
    style = "bold green" if right == asked else "bold red"
    printer.emit(Text(f"score: {right} of {asked} right", style=style))
    return EXIT_OK if right == asked else EXIT_FAILED


def _no_more(prompt: str) -> str | None:
    del prompt
    return None


def _question(
    ask: Ask,
    pending: Iterator[StepResult],
    printer: Printer,
    guesser: Guesser,
    score: list[int],
    records: list[dict[str, Any]] | None,
) -> bool:
    """Ask one question, run its step, judge; False when the student stopped answering."""
    score[1] += 1
    printer.emit(printer.source_line(dataclasses.replace(ask, comment=None)))
    printer.emit(Text(f"{INDENT}? question {score[1]}: {question_text(ask)}", style="bold cyan"))
    if ask.choices:
        shown = "   ".join(f"{n}) {_choice_text(ask, n)}" for n in range(1, len(ask.choices) + 1))
        printer.emit(Text(f"{INDENT}  {shown}", style="cyan"))
    guess = guesser(f"{INDENT}  your answer: ")
    result = next(pending)
    answer = answer_of(result)
    right = guess is not None and is_right(answer, guess, result.choices)
    score[0] += right
    _verdict(printer, answer, right, guess)
    if records is not None:
        records.append(
            {
                "line": ask.line,
                "source": ask.source,
                "question": question_text(ask),
                "guess": guess,
                "answer": answer.text,
                "right": right,
                "why": answer.why,
            }
        )
    return guess is not None


def _choice_text(ask: Ask, number: int) -> str:
    """A choice as its author wrote it."""
    return ask.text_of(ask.choices[number - 1])


def _verdict(printer: Printer, answer: Answer, right: bool, guess: str | None) -> None:
    if right:
        printer.emit(Text(f"{INDENT}✓ right: {answer.text}", style="bold green"))
    else:
        said = "no answer" if not guess else f"you said {guess.strip()}"
        printer.emit(Text(f"{INDENT}✗ the answer is {answer.text} ({said})", style="bold red"))
    if answer.why:
        printer.emit(Text(f"{INDENT}  why: {answer.why}", style="italic"))


def answer_key(path: str, output: Output, *, kernel: str, ask_expects: bool = False) -> int:
    """``mmapsim quiz --answers``: every question with its answer, computed on ``kernel``.

    On the real kernel the key is checked against the simulator's: a question
    whose answers differ is marked, and the status is then 1.
    """
    try:
        scenario = as_questions(load([path])[0], ask_expects)
        key = _key(scenario, kernel)
        other = _key(scenario, "sim", like_host=True) if kernel != "sim" else None
    except (ScenarioError, KernelUnavailableError) as err:
        output.err.print(Text(str(err)))
        return EXIT_BAD
    printer = Printer(output.out)
    printer.emit(Text(f"== answers to {path}, computed on {_KERNEL_NAMES[kernel]} ==", "bold"))
    differ = 0
    for number, (ask, answer, choices) in enumerate(key, start=1):
        printer.emit(printer.source_line(dataclasses.replace(ask, comment=None)))
        text = answer.text
        if choices:
            picked = [
                str(n) for n in range(1, len(choices) + 1) if is_right(answer, str(n), choices)
            ]
            text += f" (choice {', '.join(picked)})" if picked else ""
        printer.emit(Text(f"{INDENT}{number}. {text}", style="bold"))
        if answer.why:
            printer.emit(Text(f"{INDENT}   why: {answer.why}", style="italic"))
        if other is not None and _comparable(answer) and other[number - 1][1].text != answer.text:
            differ += 1
            sim = other[number - 1][1].text
            printer.emit(Text(f"{INDENT}   ≠ the simulator answers {sim}", style="bold red"))
    printer.emit("")
    if other is not None:
        verdict = "the simulator agrees" if not differ else f"{differ} of them differ"
        printer.emit(Text(f"{len(key)} questions: {verdict}", "bold"))
    else:
        printer.emit(Text(f"{len(key)} questions", "bold"))
    return EXIT_FAILED if differ else EXIT_OK


def _comparable(answer: Answer) -> bool:
    """Whether two kernels must give this answer alike (not an address or a frame number)."""
    value = answer.value
    return not isinstance(value, Addr) and not (isinstance(value, Frame) and value >= 0)


_KERNEL_NAMES = {"sim": "the simulated kernel", "host": "this computer's Linux kernel"}


def _key(
    scenario: Scenario, kernel: str, *, like_host: bool = False
) -> list[tuple[Ask, Answer, list[Value]]]:
    """Each question, its answer and its evaluated choices, from one run on ``kernel``
    (``like_host``: a simulated CPU like this computer's, to compare with it)."""
    key: list[tuple[Ask, Answer, list[Value]]] = []
    with machine_for(kernel, like_host=like_host) as machine:
        for result in Runner(machine).run(scenario):
            if result.asked is not None:
                key.append((result.asked, answer_of(result), list(result.choices)))
    return key
