"""The first pass over a scenario line: strings, brackets, comments, words.

A scenario line is a Python expression or assignment wrapped in a little
statement syntax of its own (``A:`` labels, ``expect ... fails EINVAL``,
``show maps A``, ``file /tmp/f "data"``).  This scanner finds the parts that are
not Python: where a comment starts, where each string literal begins and ends,
and the identifiers at bracket depth 0 outside strings (the *words*), so the
parser can split a line before it hands the Python parts to :mod:`ast`.

An unterminated string is reported here, at its opening quote.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmapsim.scenario.lang.diagnostic import ScenarioError

_QUOTES = "'\""
_STRING_PREFIXES = {"b", "r", "rb", "br", "u"}
_OPEN = "([{"
_CLOSE = ")]}"


@dataclass(frozen=True, slots=True)
class Word:
    """An identifier at bracket depth 0, outside strings; ``start``/``end`` are 0-based."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ScannedLine:
    """One source line split into code and comment, with its top-level words."""

    number: int
    text: str
    code: str
    comment: str | None
    words: tuple[Word, ...]

    def word_after(self, col: int) -> Word | None:
        """The first word that starts at or after column ``col``."""
        return next((w for w in self.words if w.start >= col), None)


def scan_line(text: str, number: int) -> ScannedLine:
    """Scan one line (without its newline) of a scenario."""
    scanner = _Scanner(text, number)
    scanner.run()
    code = text[: scanner.comment_at].rstrip() if scanner.comment_at is not None else text
    comment = None
    if scanner.comment_at is not None:
        comment = text[scanner.comment_at + 1 :].rstrip()
        comment = comment[1:] if comment.startswith(" ") else comment
    return ScannedLine(number, text, code.rstrip(), comment, tuple(scanner.words))


class _Scanner:
    """A character loop that tracks strings and bracket depth."""

    def __init__(self, text: str, number: int) -> None:
        self.text = text
        self.number = number
        self.pos = 0
        self.depth = 0
        self.words: list[Word] = []
        self.comment_at: int | None = None

    def run(self) -> None:
        """Scan until the end of the line or the start of a comment."""
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "#":
                self.comment_at = self.pos
                return
            if ch in _QUOTES:
                self.skip_string()
            elif ch.isdigit():
                self.skip_number()
            elif ch.isalpha() or ch == "_":
                self.take_word()
            else:
                self.track_bracket(ch)
                self.pos += 1

    def track_bracket(self, ch: str) -> None:
        if ch in _OPEN:
            self.depth += 1
        elif ch in _CLOSE and self.depth > 0:
            self.depth -= 1

    def skip_string(self) -> None:
        """Move past the string literal whose opening quote is at ``pos``."""
        start = self.pos
        quote = self.text[start]
        self.pos += 1
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\":
                self.pos += 2
                continue
            self.pos += 1
            if ch == quote:
                return
        raise ScenarioError("unterminated string", self.number, start + 1)

    def skip_number(self) -> None:
        """Move past a number such as ``4096``, ``0x1000`` or ``0o644``."""
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] == "_"
        ):
            self.pos += 1

    def take_word(self) -> None:
        """Record an identifier, or move past it when it prefixes a string."""
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] == "_"
        ):
            self.pos += 1
        word = self.text[start : self.pos]
        at_quote = self.pos < len(self.text) and self.text[self.pos] in _QUOTES
        if at_quote and word.lower() in _STRING_PREFIXES:
            return
        if self.depth == 0 and not self._after_dot(start):
            self.words.append(Word(word, start, self.pos))

    def _after_dot(self, start: int) -> bool:
        """Whether the identifier at ``start`` is an attribute (``p.int``)."""
        before = self.text[:start].rstrip()
        return before.endswith(".")
