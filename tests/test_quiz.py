"""mmapsim quiz: questions marked with ask, answers piped on stdin, the score, the key."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim.cli import main
from mmapsim.scenario.lang.values import Frame
from mmapsim.scenario.learn.questions import Answer, is_right

KERNELS = [
    "sim",
    pytest.param(
        "host",
        marks=pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux"),
    ),
]

QUIZ = """\
# Two processes share a file through MAP_SHARED.
file /tmp/msg "hello, world"
A: fd = open("/tmp/msg", O_RDWR)
A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
B: fd = open("/tmp/msg", O_RDONLY)
B: q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)
A: p[0:5] = "HELLO"
B: ask q[0:5] among "hello", "HELLO"     # both map the same page-cache page
A: f = frame(p)
B: ask frame(q) == A.f                   # one physical frame behind both
A: ask msync(p, 4096, MS_SYNC)
A: ask munmap(p + 1, 4096)               # the address must be page-aligned
B: ask q[0] = "x"                        # B mapped the file read-only
ask expect disk("/tmp/msg")[0:5] == "HELLO"
"""
RIGHT = "2\nyes\n0\n-1 EINVAL\nSIGSEGV\nyes\n"
WRONG = "1\nno\n-1 EINVAL\n0\nno signal\nno\n"


def quiz(tmp_path: Path, *args: str, text: str = QUIZ, stdin: str = "") -> tuple[int, str, str]:
    path = tmp_path / "q.mmap"
    path.write_text(text)
    result = CliRunner().invoke(main, ["quiz", *args, str(path)], input=stdin)
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("kernel", KERNELS)
def test_all_right_scores_full_and_exits_0(tmp_path: Path, kernel: str) -> None:
    """Piped answers, all right: each question is marked right, the score is 6 of 6."""
    code, out, err = quiz(tmp_path, "--kernel", kernel, stdin=RIGHT)
    assert code == 0, out + err
    assert out.count("✓ right") == 6
    assert "score: 6 of 6 right" in out


@pytest.mark.parametrize("kernel", KERNELS)
def test_wrong_answers_show_the_answer_and_why(tmp_path: Path, kernel: str) -> None:
    """Wrong answers: the answer, what was said, the why; exit 1."""
    code, out, _ = quiz(tmp_path, "--kernel", kernel, stdin=WRONG)
    assert code == 1
    assert '✗ the answer is "HELLO" (you said 1)' in out
    assert "✗ the answer is yes (you said no)" in out
    assert "✗ the answer is -1 EINVAL (you said 0)" in out
    assert "✗ the answer is killed by SIGSEGV (you said no signal)" in out
    assert "why: the address must be page-aligned" in out
    assert "score: 0 of 6 right" in out


def test_the_answer_is_hidden_until_the_guess(tmp_path: Path) -> None:
    """The question line shows no comment (the why), and the prompt comes before the answer."""
    _, out, _ = quiz(tmp_path, stdin=RIGHT)
    question = out.index("   8  B: ask q[0:5] among")
    line = out[question : out.index("\n", question)]
    assert "#" not in line
    assert out.index("your answer: 2") < out.index('✓ right: "HELLO"')
    assert out.index('✓ right: "HELLO"') < out.index("why: both map the same page-cache page")
    assert '1) "hello"   2) "HELLO"' in out


def test_running_out_of_answers_scores_the_rest_as_unanswered(tmp_path: Path) -> None:
    """Fewer lines than questions: the others are shown with their answer, score counts them."""
    code, out, _ = quiz(tmp_path, stdin="2\n")
    assert code == 1
    assert out.count("✗ the answer is") == 5
    assert "your answer: (no answer)" in out
    assert "score: 1 of 6 right" in out


def test_answers_prints_the_key(tmp_path: Path) -> None:
    """--answers: every question and its answer, nothing asked."""
    code, out, _ = quiz(tmp_path, "--answers")
    assert code == 0
    assert '1. "HELLO" (choice 2)' in out
    assert "4. -1 EINVAL" in out
    assert "5. killed by SIGSEGV" in out
    assert "your answer" not in out


def test_answers_on_the_host_checks_the_key_against_the_simulator(tmp_path: Path) -> None:
    """--answers --kernel host computes the key on Linux and says the simulator agrees."""
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux")
    code, out, _ = quiz(tmp_path, "--answers", "--kernel", "host")
    assert code == 0, out
    assert "computed on this computer's Linux kernel" in out
    assert "6 questions: the simulator agrees" in out


def test_expects_become_questions(tmp_path: Path) -> None:
    """--expects asks every expect as a yes-or-no question."""
    text = 'file /tmp/f "ab"\nexpect file("/tmp/f") == "ab"\nexpect file("/tmp/f") == "x"\n'
    code, out, _ = quiz(tmp_path, "--expects", text=text, stdin="yes\nno\n")
    assert code == 0, out
    assert "score: 2 of 2 right" in out


def test_run_shows_each_answer_and_does_not_fail_on_it(tmp_path: Path) -> None:
    """mmapsim run of a quiz shows the answers; a question is no expect: exit 0."""
    result = CliRunner().invoke(main, ["run", str(_write(tmp_path))])
    assert result.exit_code == 0, result.stdout
    assert "? answer: -1 EINVAL" in result.stdout
    assert "13 steps, 6 questions: all hold" in result.stdout


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "q.mmap"
    path.write_text(QUIZ)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A: ask\n", "ask what?"),
        ("A:\nask show maps A\n", "ask takes a call, a load, a store, a value or an expect"),
        ("A: ask x\n", "undefined variable 'x'"),
        ("A: ask 1 among\n", "among what?"),
        ("A: ask = 3\n", "'ask' is a keyword, not a variable"),
    ],
)
def test_bad_questions_are_mistakes(tmp_path: Path, text: str, message: str) -> None:
    """A malformed ask is found before the quiz starts: exit 2 with its place."""
    code, out, err = quiz(tmp_path, text=text)
    assert code == 2
    assert message in err
    assert "question" not in out


@pytest.mark.parametrize(
    ("answer", "guess", "right"),
    [
        (Answer("value", '"HELLO"', b"HELLO"), "HELLO", True),
        (Answer("value", '"HELLO"', b"HELLO"), '"HELLO"', True),
        (Answer("value", '"HELLO"', b"HELLO"), "hello", False),
        (Answer("value", "4096", 4096), "0x1000", True),
        (Answer("value", "4096", 4096), "1 << 12", True),
        (Answer("value", "3", 3), "PROT_READ | PROT_WRITE", True),
        (Answer("value", "no frame", Frame(-1)), "no frame", True),
        (Answer("yesno", "yes", True), "Y", True),
        (Answer("yesno", "no", False), "yes", False),
        (Answer("errno", "MAP_FAILED ENOMEM", "ENOMEM"), "MAP_FAILED, ENOMEM", True),
        (Answer("errno", "-1 EINVAL", "EINVAL"), "EACCES", False),
        (Answer("signal", "killed by SIGBUS", "SIGBUS"), "bus", True),
        (Answer("signal", "killed by SIGSEGV", "SIGSEGV"), "segfault", True),
        (Answer("signal", "killed by SIGSEGV", "SIGSEGV"), "SIGBUS", False),
        (Answer("done", "no signal", None), "ok", True),
        (Answer("done", "no signal", None), "SIGSEGV", False),
        (Answer("value", "0", 0), "", False),
    ],
)
def test_guesses_are_read_as_the_language_writes_values(
    answer: Answer, guess: str, right: bool
) -> None:
    """Typed guesses: strings bare or quoted, numbers in any base, constants, errno, signals."""
    assert is_right(answer, guess, []) is right


def test_a_scenario_without_questions_says_how_to_ask(tmp_path: Path) -> None:
    """No ask line and no --expects: the quiz says how to make questions, status 0."""
    code, out, _ = quiz(tmp_path, text='file /tmp/f "x"\nexpect file("/tmp/f") == "x"\n')
    assert code == 0
    assert "no questions here: mark some with ask, or run mmapsim quiz --expects FILE" in out


def test_json_reports_each_question_for_an_autograder(tmp_path: Path) -> None:
    """--json: answers from stdin, one object out: each guess, answer and verdict, the score."""
    code, out, _ = quiz(tmp_path, "--json", stdin="2\nno\n")
    report = json.loads(out)
    assert code == 1
    assert (report["right"], report["asked"]) == (1, 6)
    first, second = report["questions"][:2]
    assert first["guess"] == "2"
    assert first["answer"] == '"HELLO"'
    assert first["right"] is True
    assert second["right"] is False
    assert report["questions"][2]["guess"] is None
