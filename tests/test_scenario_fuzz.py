"""Random scenarios never make mmapsim fail with a traceback (issue 9 point 4).

Lines are made of the language's own pieces, well-formed or not (calls with odd
arguments, huge or negative numbers, bad paths, stray brackets, keywords where
they do not belong); every run must end with exit 0, 1 or 2 and no exception.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmapsim.scenario.render import make_console
from mmapsim.scenario.run.batch import Output, run_files

ATOMS = [
    "p", "q", "fd", "x", "NULL", "4096", "0", "-1", "1 << 40", "1 << 127", "2**64",
    "PROT_READ | PROT_WRITE", "MAP_SHARED", "MAP_PRIVATE | MAP_ANONYMOUS", "O_RDWR | O_CREAT",
    '"hi"', '"\\x00"', 'b"ab"', '"/tmp/f"', '"/dev/zero"', '"/"', '""', '"/tmp/.."',
    '"/tmp/a\\0b"', '"\\ud800"', '"\\udcff"', "0x7ffffffff000", "-4096", "A.p", "fstat(fd)",
    "fstat(fd).st_size", "1.5", "None", "True", "p.int", "p[0]", "p[0:4]", "frame(p)", "len(x)",
    "x[0]", "(1, 2)", "[1]", "f'{1}'", "lambda: 1", "not 1", "1 and 2", "pipe()", "A", "fork",
]  # fmt: skip
CALLS = [
    "mmap({}, {}, {}, {}, {}, {})", "munmap({}, {})", "mprotect({}, {}, {})", "open({}, {})",
    "read({}, {})", "write({}, {})", "pread({}, {}, {})", "pwrite({}, {}, {})", "close({})",
    "lseek({}, {}, {})", "ftruncate({}, {})", "unlink({})", "memcpy({}, {}, {})",
    "memset({}, {}, {})", "file({})", "disk({})", "exit({})", "execve({})", "msync({}, {}, {})",
]  # fmt: skip
OPS = [" + ", " - ", " * ", " // ", " % ", " | ", " << ", " >> ", " ** ", " == ", " @ "]
LINES = [
    "A: {}", "A: x = {}", "A: p = {}", "A: fd = {}", "A: p[{}] = {}", "A: p.int[{}] = {}",
    "expect {} == {}", "A: expect {} == {}", "A: expect {} fails EINVAL",
    "A: expect {} kills SIGSEGV",
    "show pages A {}", "show pages A {}, {}", "show smaps A {}", "show file {}", "file {} {}",
    "B = fork(A)", "B: {}", "show {}", "A: x += {}", "{}", "A:", "sync", "show vars A", "x = {}",
]  # fmt: skip
BASE = 'A: fd = open("/tmp/f", O_RDWR | O_CREAT)\nA: p = mmap(NULL, 8192, 3, MAP_SHARED, fd, 0)\n'


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.integers(0, 4)) if depth < 3 else 0
    if kind <= 1:
        return draw(st.sampled_from(ATOMS))
    if kind == 2:
        call = draw(st.sampled_from(CALLS))
        args = [draw(expressions(depth + 1)) for _ in range(call.count("{}"))]
        return call.format(*args)
    if kind == 3:
        op = draw(st.sampled_from(OPS))
        return draw(expressions(depth + 1)) + op + draw(expressions(depth + 1))
    return draw(st.sampled_from(["-", "~", "(", "["])) + draw(expressions(depth + 1))


@st.composite
def lines(draw: st.DrawFn) -> str:
    template = draw(st.sampled_from(LINES))
    line = template.format(*[draw(expressions()) for _ in range(template.count("{}"))])
    if draw(st.booleans()):
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(st.sampled_from(list("()[]:'\"#\\,.=\t"))) + line[at:]
    return line


@settings(max_examples=150)
@given(st.lists(lines(), min_size=1, max_size=6))
def test_no_scenario_gives_a_traceback(
    tmp_path_factory: pytest.TempPathFactory, body: list[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "random.mmap"
    path.write_text(BASE + "\n".join(body) + "\n", encoding="utf-8", errors="surrogatepass")
    out = io.StringIO()
    output = Output(make_console(file=out), make_console(file=out))
    code = run_files([str(path)], output, kernel="sim", trace=False, as_json=False)
    assert code in (0, 1, 2)
    assert "a bug of mmapsim" not in out.getvalue()
