"""mmapsim shell: load, save, trace, help, leaving with status 0, and a history that stays."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmapsim.cli import main
from mmapsim.scenario.render import make_console
from mmapsim.scenario.run import history
from mmapsim.scenario.run.batch import Output
from mmapsim.scenario.run.interactive import run_shell

KERNELS = [
    "sim",
    pytest.param(
        "host",
        marks=pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux"),
    ),
]
MAP = "A: p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)\n"


def shell(stdin: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["shell", *args], input=stdin)
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("leave", ["exit\n", "quit\n", ""])
def test_leaving_is_status_0(leave: str) -> None:
    """exit, quit and the end of input leave the shell with status 0."""
    code, out, err = shell(MAP + 'A: p[0:2] = "hi"\n' + leave)
    assert (code, err) == (0, "")
    assert "→ 2 bytes stored at" in out


def test_exit_with_an_argument_is_a_scenario_line() -> None:
    """``A: exit(0)`` is the call; a later line of A is skipped, not a mistake."""
    code, out, err = shell(MAP + "A: exit(0)\nA: p[0]\n")
    assert code == 0, err
    assert "– skipped: A exited at line 2" in out


@pytest.mark.parametrize("kernel", KERNELS)
def test_save_then_load_and_run(tmp_path: Path, kernel: str) -> None:
    """save writes the lines that ran (not the mistakes) as a scenario; load and run read it."""
    saved = tmp_path / "session.mmap"
    code, out, _ = shell(
        MAP + "A: q[0]\n" + 'A: p[0:2] = "hi"\n' + f"save {saved}\n", "--kernel", kernel
    )
    assert code == 2  # piped input with a mistake (line 2)
    assert "saved 2 lines to" in out
    assert saved.read_text() == "# Saved from mmapsim shell.\n" + MAP + 'A: p[0:2] = "hi"\n'
    code, out, err = shell(f'load {saved}\nA: expect p[0:2] == "hi"\n', "--kernel", kernel)
    assert (code, err) == (0, "")
    assert f"loaded {saved}" in out
    assert '✓ p[0:2] == "hi"' in out
    result = CliRunner().invoke(main, ["run", "--kernel", kernel, str(saved)])
    assert result.exit_code == 0


def test_load_reports_a_bad_file_with_its_place(tmp_path: Path) -> None:
    """load of a scenario with a mistake: file:line:col, and the shell goes on."""
    bad = tmp_path / "bad.mmap"
    bad.write_text("A: p = mmpa(1)\n")
    code, out, err = shell(f"load {bad}\nload {tmp_path / 'none.mmap'}\nload\n" + MAP)
    assert code == 2
    assert f"{bad}:1:8: unknown call 'mmpa' (did you mean mmap?)" in err
    assert "cannot read the scenario" in err
    assert "load which file?" in err
    assert "→ p = 0x" in out


def test_trace_on_and_off() -> None:
    """trace on lists the kernel's events under each step; trace off stops it."""
    code, out, _ = shell(MAP + "trace on\nA: p[0] = 1\ntrace off\nA: p[1] = 1\n")
    assert code == 0
    after_on = out.split("trace on")[1].split("trace off")
    assert "fault" in after_on[0]
    assert "fault" not in after_on[1]


def test_trace_on_the_real_kernel_says_there_is_none() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux")
    _, out, _ = shell("trace on\n", "--kernel", "host")
    assert "trace on (the real kernel gives no trace)" in out


@pytest.mark.parametrize(
    ("word", "shown"),
    [
        ("mmap", "mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)"),
        ("msync", "msync(void *addr, size_t length, int flags): write mapped pages back"),
        ("disk", "disk(const char *path): a file's bytes on its disk"),
        ("expect", "expect COND"),
        ("save", "save FILE"),
        ("wait", "no help for 'wait'"),
    ],
)
def test_help_of_a_call_or_a_statement(word: str, shown: str) -> None:
    """help WORD: a call's C prototype and purpose, or what a statement does."""
    _, out, _ = shell(f"help {word}\n")
    assert shown in out


def test_hints_do_not_mislead() -> None:
    """wait is not 'did you mean write?': the language has no wait, and says why."""
    _, _, err = shell("A: wait(1)\nA: x = mmpa(1)\n")
    assert "wait() is not part of the language: the lines run one after another" in err
    assert "write" not in err
    assert "unknown call 'mmpa' (did you mean mmap?)" in err


def _typed(lines: list[str]) -> Iterator[str]:
    yield from lines


def test_a_terminal_session_leaves_with_0_and_keeps_its_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a terminal, a mistake then Ctrl-D is status 0; the history file is written."""
    readline = pytest.importorskip("readline")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    typed = _typed([MAP.strip(), "A: q[0]"])

    def fake_input(prompt: str = "") -> str:
        line = next(typed, None)
        if line is None:
            raise EOFError
        readline.add_history(line)
        return line

    monkeypatch.setattr(builtins, "input", fake_input)
    output = Output(make_console(color=False), make_console(color=False))
    readline.clear_history()
    assert run_shell(output, kernel="sim") == 0
    saved = tmp_path / "mmapsim" / "history"
    assert saved.read_text().splitlines()[-2:] == [MAP.strip(), "A: q[0]"]
    readline.clear_history()
    history.load_history(readline)
    assert readline.get_history_item(readline.get_current_history_length()) == "A: q[0]"


def test_the_history_lives_in_the_xdg_state_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """$XDG_STATE_HOME/mmapsim/history, else ~/.local/state/mmapsim/history."""
    monkeypatch.setenv("XDG_STATE_HOME", "/somewhere/state")
    assert history.history_path() == Path("/somewhere/state/mmapsim/history")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert history.history_path() == Path.home() / ".local/state/mmapsim/history"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("A: exit", "exit is a call: write exit(status)"),
        ("A: sbrk(4096)", "sbrk() is not part of the language: a scenario has mmap"),
        ("A: malloc(10)", "memory comes from mmap(NULL, n, ..., MAP_PRIVATE | MAP_ANONYMOUS"),
    ],
)
def test_common_c_habits_get_a_useful_answer(line: str, message: str) -> None:
    """A call used as a name, or a C call the language lacks: what to write instead."""
    _, _, err = shell(line + "\n")
    assert message in err
    assert "did you mean" not in err
