"""``mmapsim quiz``: a scenario as a quiz, predictions first, answers after."""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Any

import click

from mmapsim.cli.group import COLOR, KERNEL, main, make_output

if TYPE_CHECKING:
    from mmapsim.scenario.run.batch import Output


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--kernel", type=KERNEL, default="sim", show_default=True, help="Where to run.")
@click.option("--answers", is_flag=True, help="Print the answer key instead of asking.")
@click.option("--expects", "ask_expects", is_flag=True, help="Ask every expect as a question too.")
@click.option("--json", "as_json", is_flag=True, help="Read answers from stdin, print a report.")
@COLOR
def quiz(
    file: str, kernel: str, answers: bool, ask_expects: bool, as_json: bool, color: bool | None
) -> None:
    """Run FILE as a quiz: predict each answer before the kernel gives it.

    On a terminal each question is a prompt; otherwise the answers are read
    from standard input, one a line.  Exit status 0 when every answer was right.
    """
    from mmapsim.scenario.learn.quiz_run import (
        answer_key,
        piped_guesser,
        run_quiz,
        terminal_guesser,
    )

    output = make_output(color)
    if answers:
        raise SystemExit(answer_key(file, output, kernel=kernel, ask_expects=ask_expects))
    stdin = sys.stdin
    if as_json:
        raise SystemExit(_json_report(file, output, kernel=kernel, ask_expects=ask_expects))
    interactive = stdin.isatty() and sys.stdout.isatty()
    guesser = terminal_guesser(output) if interactive else piped_guesser(stdin, output)
    raise SystemExit(
        run_quiz(file, output, kernel=kernel, guesser=guesser, ask_expects=ask_expects)
    )


def _json_report(file: str, output: Output, *, kernel: str, ask_expects: bool) -> int:
    """``quiz --json``: answers from stdin, one JSON object out (for autograders)."""
    import json

    from mmapsim.scenario.learn.quiz_run import piped_guesser, run_quiz
    from mmapsim.scenario.render import make_console
    from mmapsim.scenario.run.batch import Output

    quiet = Output(make_console(color=False, file=io.StringIO()), output.err)
    records: list[dict[str, Any]] = []
    status = run_quiz(
        file,
        quiet,
        kernel=kernel,
        guesser=piped_guesser(sys.stdin, quiet),
        ask_expects=ask_expects,
        records=records,
    )
    if status != 2:
        right = sum(1 for r in records if r["right"])
        report = {"file": file, "kernel": kernel, "right": right, "asked": len(records)}
        output.out.print_json(json.dumps({**report, "questions": records}))
    return status
