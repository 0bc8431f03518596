"""``mmapsim shell``: the scenario language one line at a time.

Each line is parsed, checked and run at once on one machine that lives as long
as the shell.  A mistake prints ``<shell>:N:COL: ...`` and the shell goes on.
Lines are kept in a history file when readline is available, and Tab completes
calls, C constants, keywords, processes and variables.
"""

from __future__ import annotations

import cmd
import contextlib
from pathlib import Path
from types import ModuleType
from typing import IO

from rich.text import Text

from mmapsim.constants import C_CONSTANTS
from mmapsim.errors import ProcessKilled
from mmapsim.scenario.calls import CALLS, KEYWORDS, SHOW_KINDS
from mmapsim.scenario.checker import Checker
from mmapsim.scenario.commands import Output, machine_for
from mmapsim.scenario.errors import ScenarioError
from mmapsim.scenario.parser import parse_line
from mmapsim.scenario.render import Printer, result_lines
from mmapsim.scenario.runner import Runner
from mmapsim.scenario.syntax import Note

HISTORY = Path.home() / ".mmapsim_history"
INTRO = """mmapsim shell on {kernel}: type scenario lines, such as
  A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
  show maps A
'help' shows the language, Tab completes, 'quit' (or Ctrl-D) leaves."""

HELP = """A line is one step, labelled with the process that runs it:
  A: fd = open("/tmp/f", O_RDWR | O_CREAT)      a call, by its C name
  A: p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)
  A: p[0:5] = "hello"        a store;   A: p[0:5]   a load
  C = fork(A)                a new process C, a copy of A
  file /tmp/f "contents"     a file, written from outside every process
  expect file("/tmp/f") == "hello"
  A: expect munmap(p + 1, 4096) fails EINVAL
  A: expect p[0] = "x" kills SIGSEGV
  show maps A | show smaps A p | show pages A p | show layout A | show file /tmp/f | show vars A
Calls: {calls}"""


class ScenarioShell(cmd.Cmd):
    """A read-run-print loop over scenario lines."""

    prompt = "mmapsim> "

    def __init__(self, runner: Runner, output: Output, stdin: IO[str] | None = None) -> None:
        super().__init__(stdin=stdin)
        if stdin is not None:
            self.use_rawinput = False
            self.prompt = ""
        self.runner = runner
        self.output = output
        self.printer = Printer(output.out)
        self.checker = Checker()
        self.number = 0
        self.errors = 0

    def default(self, line: str) -> None:
        """Run one scenario line."""
        self.number += 1
        try:
            item = parse_line(line, self.number)
            if isinstance(item, Note):
                return
            self.checker.check(item)
            ascii_only = self.output.out.options.ascii_only
            for text in result_lines(self.runner.run_step(item), ascii_only=ascii_only):
                self.printer.emit(text)
        except ScenarioError as err:
            self.errors += 1
            self.output.err.print(Text(str(err.in_file("<shell>"))))
        except (ProcessKilled, ProcessLookupError) as err:
            self.errors += 1
            self.output.err.print(Text(f"<shell>:{self.number}:1: {err}"))

    def emptyline(self) -> bool:
        return False

    def do_help(self, arg: str) -> None:
        """Show the language in brief."""
        self.output.out.print(HELP.format(calls=", ".join(CALLS)), highlight=False)

    def do_quit(self, arg: str) -> bool:
        """Leave the shell."""
        return True

    def do_EOF(self, arg: str) -> bool:
        """Leave the shell at the end of input."""
        self.output.out.print()
        return True

    def completenames(self, text: str, *ignored: object) -> list[str]:
        return self.completedefault(text, "", 0, 0)

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        """Calls, constants, keywords, show kinds, processes and variables that fit."""
        words = [*CALLS, *C_CONSTANTS, *KEYWORDS, *SHOW_KINDS, "NULL", "fork", "quit"]
        words += [f"{name}:" for name in self.checker.processes]
        for names in self.checker.processes.values():
            words += names
        return sorted({word for word in words if word.startswith(text)})


def run_shell(output: Output, *, kernel: str, stdin: IO[str] | None = None) -> int:
    """``mmapsim shell``: 0 when the input ran without a mistake, else 2."""
    readline = _readline() if stdin is None else None
    with machine_for(kernel) as machine:
        shell = ScenarioShell(Runner(machine), output, stdin)
        intro = INTRO.format(kernel=kernel) if stdin is None else None
        try:
            shell.cmdloop(intro)
        except KeyboardInterrupt:
            output.out.print()
    if readline is not None:
        with contextlib.suppress(OSError):
            readline.write_history_file(HISTORY)
    return 0 if shell.errors == 0 else 2


def _readline() -> ModuleType | None:
    """readline with the history loaded, where this Python has it."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Python without readline
        return None
    with contextlib.suppress(OSError):
        readline.read_history_file(HISTORY)
    readline.set_completer_delims(" \t\n()[],|+-*=:")
    return readline
