"""A bad scenario is reported as ``file:line:col: what is wrong``, before anything runs."""

from __future__ import annotations

import pytest

from mmapsim.scenario.lang.checker import check_scenario
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.parser import parse_text

MAP = "A: p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)\n"


def error_of(text: str) -> ScenarioError:
    """The error that parsing and checking ``text`` raises."""
    with pytest.raises(ScenarioError) as caught:
        check_scenario(parse_text(text, "bad.mmap"))
    return caught.value


MISTAKES = [
    # (kind, scenario, "line:col", words the message must contain)
    (
        "unknown call",
        "A: p = mmpa(NULL, 4096, 1, 2, -1, 0)",
        "1:8",
        "unknown call 'mmpa' (did you mean mmap?)",
    ),
    ("too few arguments", MAP + "A: munmap(p)", "2:4", "munmap takes 2 arguments, not 1"),
    (
        "too many arguments",
        'A: fd = open("/f", O_RDWR, 0o644, 1)',
        "1:9",
        "open takes 2 or 3 arguments, not 4",
    ),
    ("undefined variable", "A: munmap(q, 4096)", "1:11", "undefined variable 'q' in process A"),
    ("another process's variable", MAP + "B: munmap(p, 4096)", "2:11", "(p belongs to A)"),
    ("unknown process in fork", "C = fork(A)", "1:10", "unknown process A"),
    ("unknown process in show", "show maps Z", "1:11", "unknown process Z"),
    (
        "bad constant",
        "A: p = mmap(NULL, 4096, PROT_RAED, MAP_SHARED, -1, 0)",
        "1:25",
        "unknown constant 'PROT_RAED' (did you mean PROT_READ?)",
    ),
    ("unterminated string", 'file /tmp/f "hello', "1:13", "unterminated string"),
    (
        "unterminated string in a call",
        'A: fd = open("/tmp/f, O_RDONLY)',
        "1:14",
        "unterminated string",
    ),
    (
        "bad errno",
        MAP + "A: expect munmap(p + 1, 4096) fails EINVALID",
        "2:37",
        "unknown errno name 'EINVALID' (did you mean EINVAL?)",
    ),
    (
        "bad signal",
        MAP + "A: expect p[0] = 1 kills SIGSEG",
        "2:26",
        "unknown signal 'SIGSEG' (did you mean SIGSEGV?)",
    ),
    ("syntax error", "A: p = = 3", "1:8", "syntax error"),
    ("C octal", 'A: fd = open("/f", O_CREAT, 0644)', "1:29", "0o644"),
    ("a float", "A: x = 1.5", "1:8", "only integers"),
    ("a lambda", "A: x = lambda: 1", "1:8", "a lambda is not part of the scenario language"),
    ("keyword arguments", 'A: fd = open(path="/f", flags=0)', "1:14", "by position, as in C"),
    ("a call outside a process", MAP + "munmap(p, 4096)", "2:1", "munmap() runs in a process"),
    ("assigning a constant", "A: PROT_READ = 3", "1:4", "PROT_READ is a C constant"),
    ("assigning a call's name", "A: mmap = 3", "1:4", "mmap is a call, not a variable"),
    ("a labelled fork", "A: x = 1\nA: C = fork(A)", "2:4", "fork makes a new process"),
    (
        "a second fork of one name",
        "A: x = 1\nC = fork(A)\nC = fork(A)",
        "3:1",
        "process C exists already",
    ),
    ("unknown show", "A: x = 1\nshow mapz A", "2:6", "cannot show 'mapz'"),
    ("two statements", "A: x = 1; y = 2", "1:11", "one statement per line"),
    ("an if statement", "A: if x: y = 1", "1:4", "'if' statements are not part of"),
    ("file without contents", "file /tmp/f", "1:12", "needs its contents"),
    ("file with a relative path", 'file tmp/f "x"', "1:6", "a path starts with '/'"),
    ("expect with an assignment", MAP + 'A: expect p[0] = "x"', "2:11", "compare with =="),
    (
        "expect kills without a process",
        MAP + 'expect p[0] = "x" kills SIGSEGV',
        "2:1",
        "which process is killed",
    ),
    (
        "fails without an errno",
        MAP + "A: expect munmap(p, 1) fails",
        "2:29",
        "'fails' needs an errno name",
    ),
    ("a comparison outside expect", MAP + "A: p == 3", "2:4", "only an expect line compares"),
    ("a keyword as a label", "expect: x = 1", "1:1", "'expect' cannot name a process"),
    ("a process used as a value", MAP + "B: x = A", "2:8", "A is a process, not a value"),
    (
        "an unknown stat field",
        'A: fd = open("/f", 0)\nA: n = fstat(fd).size',
        "2:8",
        "unknown field .size",
    ),
    ("a view used without an index", MAP + "A: x = p.int", "2:8", "index it, as in p.int[0]"),
]


@pytest.mark.parametrize(("kind", "text", "where", "words"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistake_is_reported_at_its_place(kind: str, text: str, where: str, words: str) -> None:
    """Each kind of mistake names the file, the line, the column and what is wrong."""
    err = error_of(text)
    assert f"{err.line}:{err.col}" == where, str(err)
    assert words in err.message
    assert str(err).startswith(f"bad.mmap:{where}: ")


def test_column_counts_characters_not_bytes() -> None:
    """A column after a non-ASCII string is counted in characters."""
    err = error_of('A: x = "éé" + nope')
    assert (err.line, err.col) == (1, 15)


def test_a_good_scenario_passes_the_checker() -> None:
    """Every construct of the language together raises nothing."""
    text = """
# narration
file /tmp/f "hello, world"
N = 2 * 4096
A: fd = open("/tmp/f", O_RDWR, 0o644)
A: p = mmap(NULL, N, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)   # trailing comment
A: p[0:5] = "HELLO"
A: p.int[1] += 1
A: r, w = pipe()
A: size = fstat(fd).st_size
C = fork(A)
C: expect p[0:5] == "HELLO"
A: expect munmap(p + 1, 4096) fails EINVAL
C: expect p[0x10000000] = b"\\x00" kills SIGSEGV
expect file("/tmp/f")[0:5] == "HELLO"
show maps A
A: show pages p, 4096
show file "/tmp/f"
"""
    check_scenario(parse_text(text))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("sleep", "sleep needs a number of seconds"),
        ("sleep x", "sleep needs a number of seconds"),
        ("sleep -1", "sleep needs a number of seconds"),
        ("sleep 1e3", "sleep needs a number of seconds"),
        ("sleep 99999999999", "sleep at most"),
    ],
)
def test_a_bad_sleep_is_reported_at_its_line(line, message):
    """sleep takes a whole or decimal number of seconds."""
    with pytest.raises(ScenarioError, match=message):
        parse_text(line)


def test_a_second_recover_section_is_a_mistake():
    """A scenario has one recovery section."""
    with pytest.raises(ScenarioError, match="one recover: section") as err:
        parse_text("A: x = 1\nrecover:\nB: y = 2\nrecover:\n")
    assert err.value.line == 4


def test_recover_cannot_name_a_process():
    """'recover:' starts the recovery section, so it is no process label."""
    with pytest.raises(ScenarioError, match="'recover' cannot name a process"):
        parse_text("recover: x = 1")
