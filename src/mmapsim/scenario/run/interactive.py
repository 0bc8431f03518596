"""``mmapsim shell``: the scenario language one line at a time.

Each line is parsed, checked and run at once on one machine that lives as long
as the shell.  A mistake prints ``<shell>:N:COL: ...`` and the shell goes on.
Besides scenario lines the shell knows ``load FILE`` (run a scenario's lines
here), ``save FILE`` (the lines that ran, as a scenario), ``trace on|off``,
``help [CALL]`` and ``exit``/``quit``/Ctrl-D.  Lines are kept in a history file
(:mod:`mmapsim.scenario.run.history`) when readline is available, and Tab completes
calls, C constants, keywords, processes and variables.
"""

from __future__ import annotations

import cmd
from pathlib import Path
from types import ModuleType
from typing import IO

from rich.text import Text

from mmapsim.constants import C_CONSTANTS
from mmapsim.errors import ProcessKilled
from mmapsim.scenario.lang.calls import CALLS, KEYWORDS, SHOW_KINDS
from mmapsim.scenario.lang.checker import Checker
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.parser import parse_file, parse_line
from mmapsim.scenario.lang.syntax import Note, Step
from mmapsim.scenario.render import Printer, result_lines
from mmapsim.scenario.run.batch import Output, machine_for
from mmapsim.scenario.run.history import load_history, save_history
from mmapsim.scenario.run.interactive_help import INTRO, help_text
from mmapsim.scenario.run.runner import Runner

#: Words the shell answers itself; anything else is a scenario line.
COMMANDS = ("load", "save", "trace", "help", "exit", "quit")


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
        self.ran: list[str] = []  # the lines that ran, for save

    def onecmd(self, line: str) -> bool:
        """A shell command when the line is one (``exit``, ``load f``), else a scenario line.

        ``exit(0)`` or ``help = 1`` are scenario lines (and mistakes without a label).
        """
        word = line.strip().partition(" ")[0]
        if word in COMMANDS or word == "EOF":
            return bool(super().onecmd(line))
        self.default(line)
        return False

    def default(self, line: str) -> None:
        """Run one scenario line."""
        self.number += 1
        if self.run_line(line, self.number, "<shell>"):
            self.ran.append(line)

    def run_line(self, line: str, number: int, where: str) -> bool:
        """Parse, check and run ``line``; report a mistake at ``where``. True if it ran."""
        try:
            item = parse_line(line, number)
            if isinstance(item, Note):
                return True
            self.run_item(item)
        except ScenarioError as err:
            self.errors += 1
            self.output.err.print(Text(str(err.in_file(where))))
            return False
        except (ProcessKilled, ProcessLookupError) as err:
            self.errors += 1
            self.output.err.print(Text(f"{where}:{number}:1: {err}"))
            return False
        return True

    def run_item(self, item: Step) -> None:
        """Check one step against the session's names, run it, print what it did."""
        self.checker.check(item)
        ascii_only = self.output.out.options.ascii_only
        for text in result_lines(self.runner.run_step(item), ascii_only=ascii_only):
            self.printer.emit(text)

    def emptyline(self) -> bool:
        return False

    def do_help(self, arg: str) -> None:
        """Show the language in brief, or one call (``help mmap``) or statement."""
        self.output.out.print(help_text(arg), highlight=False)

    def do_load(self, arg: str) -> None:
        """``load FILE``: run the lines of a scenario file in this session."""
        path = arg.strip()
        if not path:
            self._mistake("load which file? (load examples/lecture/01_memory_mapped_files.mmap)")
            return
        try:
            scenario = parse_file(path)
        except ScenarioError as err:
            self.errors += 1
            self.output.err.print(Text(str(err)))
            return
        text = Path(path).read_text(encoding="utf-8").splitlines()
        printer = self.printer
        for item in scenario.items:
            if isinstance(item, Note):
                printer.note(item)
                continue
            printer.emit(printer.source_line(item))
            try:
                self.run_item(item)
            except ScenarioError as err:
                self.errors += 1
                self.output.err.print(Text(str(err.in_file(path))))
                return
            self.ran.append(text[item.line - 1])
        self.output.out.print(Text(f"loaded {path}", style="dim"))

    def do_save(self, arg: str) -> None:
        """``save FILE``: the lines this session ran, as a scenario ``mmapsim run`` reads."""
        path = arg.strip()
        if not path:
            self._mistake("save to which file? (save session.mmap)")
            return
        body = "".join(line.rstrip() + "\n" for line in self.ran)
        try:
            Path(path).write_text("# Saved from mmapsim shell.\n" + body, encoding="utf-8")
        except OSError as err:
            self._mistake(f"cannot save to {path}: {err.strerror}")
            return
        self.output.out.print(Text(f"saved {len(self.ran)} lines to {path}", style="dim"))

    def do_trace(self, arg: str) -> None:
        """``trace on`` / ``trace off``: the kernel's events under each step."""
        word = arg.strip().lower()
        if word not in ("on", "off", ""):
            self._mistake("trace on, or trace off")
            return
        self.runner.trace = word != "off"
        has_events = getattr(self.runner.machine, "events", None) is not None
        state = "on" if self.runner.trace else "off"
        note = "" if has_events or not self.runner.trace else " (the real kernel gives no trace)"
        self.output.out.print(Text(f"trace {state}{note}", style="dim"))

    def _mistake(self, message: str) -> None:
        self.errors += 1
        self.output.err.print(Text(f"<shell>: {message}"))

    def do_exit(self, arg: str) -> bool:
        """Leave the shell (status 0)."""
        return True

    def do_quit(self, arg: str) -> bool:
        """Leave the shell (status 0)."""
        return True

    def do_EOF(self, arg: str) -> bool:
        """Leave the shell at the end of input."""
        self.output.out.print()
        return True

    def completenames(self, text: str, *ignored: object) -> list[str]:
        return self.completedefault(text, "", 0, 0)

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        """Calls, constants, keywords, show kinds, processes and variables that fit."""
        words = [*CALLS, *C_CONSTANTS, *KEYWORDS, *SHOW_KINDS, "NULL", "fork", *COMMANDS]
        words += [f"{name}:" for name in self.checker.processes]
        for names in self.checker.processes.values():
            words += names
        return sorted({word for word in words if word.startswith(text)})


def run_shell(output: Output, *, kernel: str, stdin: IO[str] | None = None) -> int:
    """``mmapsim shell``: leaving by exit, quit or Ctrl-D is status 0 on a terminal.

    With lines piped on ``stdin`` (a script), the status is 2 if one was a mistake.
    """
    readline = _readline() if stdin is None else None
    with machine_for(kernel) as machine:
        shell = ScenarioShell(Runner(machine), output, stdin)
        intro = INTRO.format(kernel=kernel) if stdin is None else None
        try:
            shell.cmdloop(intro)
        except KeyboardInterrupt:
            output.out.print()
        finally:
            if readline is not None:
                save_history(readline)
    return 2 if stdin is not None and shell.errors else 0


def _readline() -> ModuleType | None:
    """readline with the history loaded, where this Python has it."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Python without readline
        return None
    load_history(readline)
    readline.set_completer_delims(" \t\n()[],|+-*=:")
    return readline
