"""The one error a scenario author sees: ``file:line:col: what is wrong``.

A scenario that cannot be read (a syntax error, an unknown call, an undefined
variable, ...) or that asks for something impossible while it runs (a store of a
string into an int, a step for a process that was killed) raises
:class:`ScenarioError`.  The command line prints it and exits with status 2; no
traceback ever reaches the author.
"""

from __future__ import annotations


class ScenarioError(Exception):
    """A mistake in a scenario, at ``line``:``col`` (both counted from 1)."""

    def __init__(self, message: str, line: int, col: int, path: str = "<scenario>") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"

    def in_file(self, path: str) -> ScenarioError:
        """The same error, reported against ``path``."""
        return ScenarioError(self.message, self.line, self.col, path)


class ScenarioErrors(ScenarioError):
    """Mistakes in several scenario files, reported together, one per line.

    It is a :class:`ScenarioError` (the first one's place), so whatever handles
    one bad file handles several.
    """

    def __init__(self, errors: list[ScenarioError]) -> None:
        first = errors[0]
        super().__init__(first.message, first.line, first.col, first.path)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(err) for err in self.errors)
