"""Where ``mmapsim shell`` keeps its history: readline's file in the XDG state directory.

``$XDG_STATE_HOME/mmapsim/history``, else ``~/.local/state/mmapsim/history``
(the XDG Base Directory default), so the lines typed survive a restart.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import ModuleType

HISTORY_LENGTH = 1000


def history_path() -> Path:
    """The history file of this user."""
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local/state"
    return base / "mmapsim" / "history"


def load_history(readline: ModuleType) -> None:
    """Read the history file into readline, if there is one."""
    with contextlib.suppress(OSError):
        readline.read_history_file(history_path())


def save_history(readline: ModuleType) -> None:
    """Write readline's history (the last HISTORY_LENGTH lines), making its folder."""
    path = history_path()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.set_history_length(HISTORY_LENGTH)
        readline.write_history_file(path)
