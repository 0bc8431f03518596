"""What ``help`` says in ``mmapsim shell``: the language in brief, a call, a statement."""

from __future__ import annotations

from mmapsim.scenario.lang.calls import CALLS

INTRO = """mmapsim shell on {kernel}: type scenario lines, such as
  A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
  show maps A
'help' shows the language, 'help mmap' one call, Tab completes;
'load FILE', 'save FILE', 'trace on'; 'exit' (or Ctrl-D) leaves."""

HELP = """A line is one step, labelled with the process that runs it:
  A: fd = open("/tmp/f", O_RDWR | O_CREAT)      a call, by its C name
  A: p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)
  A: p[0:5] = "hello"        a store;   A: p[0:5]   a load
  C = fork(A)                a new process C, a copy of A
  file /tmp/f "contents"     a file, written from outside every process
  expect file("/tmp/f") == "hello"        expect disk("/tmp/f") == "hello"
  A: expect munmap(p + 1, 4096) fails EINVAL
  A: expect p[0] = "x" kills SIGSEGV
  sync                       crash (simulator only)
  A: ask q[0:5]              a question, for mmapsim quiz
  show maps A | show smaps A p | show pages A p | show layout A | show frame A p
  show file /tmp/f | show cache /tmp/f | show vars A
Shell commands: load FILE, save FILE, trace on|off, help [CALL], exit, quit.
Calls: {calls}"""

#: ``help WORD`` for the statements and shell commands that are not calls.
TOPICS = {
    "expect": "expect COND | A: expect STEP fails ERRNO | A: expect STEP kills SIGNAL: a check",
    "show": "show maps|smaps|pages|layout|frame|vars A [p[, length]] | show file|cache PATH",
    "fork": "C = fork(A): C is a new process, a copy of A (its own line, no label)",
    "file": 'file /tmp/f "data": the file holds these bytes, on its disk too',
    "sync": "sync: every dirty page of every file is written to its disk (sync(2))",
    "crash": "crash: a power failure; processes die, the page cache is lost (simulator only)",
    "ask": "A: ask STEP [among X, Y]: a question of mmapsim quiz; here it shows its answer",
    "load": "load FILE: run every line of a scenario file in this session",
    "save": "save FILE: write the lines this session ran, as a scenario",
    "trace": "trace on | trace off: list the kernel's events under each step (simulator)",
    "exit": "exit, quit or Ctrl-D: leave the shell",
}
TOPICS["quit"] = TOPICS["exit"]


def help_text(word: str) -> str:
    """The help for ``word``: a call's prototype and purpose, a statement, or all."""
    word = word.strip()
    if not word:
        return HELP.format(calls=", ".join(CALLS))
    spec = CALLS.get(word)
    if spec is not None:
        return f"{spec.prototype()}: {spec.summary}"
    if word in TOPICS:
        return TOPICS[word]
    return f"no help for '{word}': try 'help' for the language, 'help mmap' for a call"
