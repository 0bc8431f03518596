"""``mmapsim exercise``: seeded exercises, scenarios full of questions for ``mmapsim quiz``.

As in the OSTEP homework scripts, a topic and a seed give one exercise, the same
every time (``random.Random`` seeded by both); ``solve`` adds the answers,
computed by running the exercise on the simulator.
"""

from __future__ import annotations

from mmapsim.scenario.learn.exercises.claims import CLAIMS
from mmapsim.scenario.learn.exercises.sheet import Sheet
from mmapsim.scenario.learn.exercises.topics import TOPICS

__all__ = ["CLAIMS", "TOPICS", "claims_of", "generate", "solve"]


def _sheet(topic: str, seed: int) -> Sheet:
    title, write = TOPICS[topic]
    sheet = Sheet(topic, seed, title)
    write(sheet)
    return sheet


def generate(topic: str, seed: int) -> str:
    """The exercise of ``topic`` for ``seed``: a scenario with ``ask`` lines."""
    return _sheet(topic, seed).text()


def claims_of(topic: str) -> list[str]:
    """The lecture's claims that the exercises of ``topic`` ask about (any seed)."""
    return _sheet(topic, 0).claims


def solve(text: str, name: str = "<exercise>") -> str:
    """``text`` with each question's answer, from the simulator, written into its comment."""
    from mmapsim import Machine  # the simulator only when an answer is asked for
    from mmapsim.scenario.lang.checker import check_scenario
    from mmapsim.scenario.lang.parser import parse_text
    from mmapsim.scenario.learn.questions import answer_of
    from mmapsim.scenario.run.runner import Runner

    scenario = parse_text(text, name)
    check_scenario(scenario)
    answers: dict[int, str] = {}
    with Machine() as machine:
        for result in Runner(machine).run(scenario):
            if result.asked is not None:
                answers[result.asked.line] = answer_of(result).text
    lines = text.splitlines()
    for number, answer in answers.items():
        code, sep, why = lines[number - 1].partition(" # ")
        note = f"answer: {answer}" + (f"; {why}" if sep else "")
        lines[number - 1] = f"{code.rstrip().ljust(47)} # {note}"
    return "\n".join(lines) + "\n"
