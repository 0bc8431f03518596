"""mmapsim tour on a terminal waits for Enter between slides; piped or --all it does not."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from click.testing import CliRunner

from mmapsim.cli import main
from mmapsim.scenario.learn.slides import pause_at_terminal, run_tour, slides
from mmapsim.scenario.render import make_console
from mmapsim.scenario.run.batch import Output


def _output() -> tuple[Output, io.StringIO]:
    buffer = io.StringIO()
    console = make_console(color=False, file=buffer)
    return Output(console, make_console(color=False, file=io.StringIO())), buffer


def _reader(answers: list[str]) -> tuple[list[str], Callable[[str], str]]:
    prompts: list[str] = []
    pending: Iterator[str] = iter(answers)

    def read(prompt: str) -> str:
        prompts.append(prompt)
        try:
            return next(pending)
        except StopIteration:
            raise EOFError from None

    return prompts, read


def test_a_pipe_gets_every_slide_at_once() -> None:
    """Without a terminal nothing waits: every slide is printed, and no prompt."""
    result = CliRunner().invoke(main, ["tour"])
    assert result.exit_code == 0
    assert result.stdout.count(f" of {len(slides())}\n") == len(slides())
    assert "Enter for the next one" not in result.stdout
    assert CliRunner().invoke(main, ["tour", "--all", "--slide", "1"]).exit_code == 0


def test_enter_goes_on_and_q_quits() -> None:
    """Enter shows the next slide; q after slide 2 ends the tour there, status 0."""
    output, buffer = _output()
    prompts, read = _reader(["", "q"])
    status = run_tour(output, pause=pause_at_terminal(output, read=read))
    assert status == 0
    text = buffer.getvalue()
    assert "Slide 2 of" in text
    assert "Slide 3 of" not in text
    assert prompts == [
        f"-- slide 1 of {len(slides())}: Enter for the next one, q to quit -- ",
        f"-- slide 2 of {len(slides())}: Enter for the next one, q to quit -- ",
    ]


def test_ctrl_d_ends_the_tour() -> None:
    """End of input at the prompt ends the tour after the slide on screen."""
    output, buffer = _output()
    _, read = _reader([])
    assert run_tour(output, pause=pause_at_terminal(output, read=read)) == 0
    assert "Slide 2 of" not in buffer.getvalue()


def test_one_slide_never_waits() -> None:
    """--slide N shows one slide: there is nothing to wait for."""
    output, buffer = _output()
    prompts, read = _reader([])
    assert run_tour(output, only=3, pause=pause_at_terminal(output, read=read)) == 0
    assert prompts == []
    assert "Slide 3 of" in buffer.getvalue()
