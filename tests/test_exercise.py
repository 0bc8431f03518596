"""mmapsim exercise: seeded exercises that run as quizzes, and cover the lecture's claims."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim import Machine
from mmapsim.cli import main
from mmapsim.scenario.exercises import CLAIMS, TOPICS, claims_of, generate
from mmapsim.scenario.parser import parse_text
from mmapsim.scenario.quiz import answer_of, is_right
from mmapsim.scenario.runner import Runner

REQUIRED = ("shared", "private-cow", "anonymous", "fork", "msync", "munmap", "layout", "eof")
_ANSWER = re.compile(r"# answer: (.*?)(?:; |$)")
_ASK = re.compile(r"^(\w+: )?ask ")


def cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.stdout + result.stderr


def test_the_required_topics_exist() -> None:
    """At least the topics the exercises promise."""
    assert set(REQUIRED) <= set(TOPICS)


def test_every_claim_of_the_lecture_is_asked_by_some_topic() -> None:
    """The union of the topics' claims is every claim."""
    covered = {claim for topic in TOPICS for claim in claims_of(topic)}
    assert covered == set(CLAIMS)


@pytest.mark.parametrize("topic", REQUIRED)
def test_a_seed_repeats_and_seeds_differ(topic: str) -> None:
    """The same seed gives the same exercise; five seeds give five different ones."""
    code, first = cli("exercise", "--topic", topic, "--seed", "7")
    assert code == 0
    assert cli("exercise", "--topic", topic, "--seed", "7")[1] == first
    assert len({generate(topic, seed) for seed in range(5)}) == 5


@pytest.mark.parametrize("topic", REQUIRED)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_answer_as_shown_is_accepted(topic: str, seed: int) -> None:
    """Each exercise runs on the simulator; typing an answer as the key shows it is right."""
    scenario = parse_text(generate(topic, seed), "ex.mmap")
    with Machine() as machine:
        results = [r for r in Runner(machine).run(scenario) if r.asked is not None]
    assert len(results) >= 5
    for result in results:
        answer = answer_of(result)
        assert answer.kind != "skipped", (result.asked, answer)
        assert is_right(answer, answer.text, result.choices), answer


@pytest.mark.parametrize("topic", REQUIRED)
def test_solved_exercises_score_full_marks_and_wrong_answers_none(
    tmp_path: Path, topic: str
) -> None:
    """As a student would: the solved key's answers piped in score all; nonsense scores 0."""
    code, solved = cli("exercise", "--topic", topic, "--seed", "3", "--solve")
    assert code == 0
    answers = [_ANSWER.search(line) for line in solved.splitlines() if _ASK.search(line)]
    assert all(answers)
    keys = [match[1] for match in answers if match]
    path = tmp_path / "ex.mmap"
    path.write_text(cli("exercise", "--topic", topic, "--seed", "3")[1])
    code, out = cli("quiz", str(path), stdin="\n".join(keys) + "\n")
    assert code == 0, out
    assert f"score: {len(keys)} of {len(keys)} right" in out
    code, out = cli("quiz", str(path), stdin="zzz\n" * len(keys))
    assert code == 1
    assert f"score: 0 of {len(keys)} right" in out


def test_solve_writes_each_answer_into_its_question() -> None:
    """--solve: the answer first in each question's comment, the why after it."""
    _, solved = cli("exercise", "--topic", "eof", "--seed", "1", "--solve")
    asks = [line for line in solved.splitlines() if _ASK.search(line)]
    assert asks[-1].endswith(
        "# answer: killed by SIGBUS; that page lies wholly beyond the end of the file"
    )


@pytest.mark.parametrize("topic", ["shared", "anonymous", "fork", "eof"])
def test_the_key_holds_on_linux(tmp_path: Path, topic: str) -> None:
    """quiz --answers --kernel host: Linux gives the simulator's answers."""
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux")
    path = tmp_path / "ex.mmap"
    path.write_text(generate(topic, 5))
    code, out = cli("quiz", "--answers", "--kernel", "host", str(path))
    assert code == 0, out
    assert "questions: the simulator agrees" in out


def test_an_unknown_topic_is_refused() -> None:
    """A topic that does not exist: click's usage error, exit 2, naming the topics."""
    code, out = cli("exercise", "--topic", "swap", "--seed", "1")
    assert code == 2
    assert "private-cow" in out


def test_the_readme_shows_a_real_quiz(tmp_path: Path) -> None:
    """The quiz on the README's first screen is what mmapsim prints, line for line."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("$ mmapsim exercise --topic fork --seed 1", 1)[1].split("```", 1)[0]
    shown = [line for line in block.splitlines()[1:] if line.strip() not in ("", "...")]
    path = tmp_path / "fork.mmap"
    path.write_text(generate("fork", 1))
    _, out = cli("quiz", str(path), stdin="yes\n1\nyes\nno\n2\n2\n")
    lines = iter(out.splitlines())
    for line in shown:
        assert any(got == line for got in lines), line
