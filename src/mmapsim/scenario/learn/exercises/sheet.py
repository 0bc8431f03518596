"""A scenario being written by an exercise generator: lines, questions, claims, a seeded RNG."""

from __future__ import annotations

import random

from mmapsim.scenario.learn.exercises.claims import CLAIMS

WORDS = (
    "amber", "apple", "birch", "cedar", "cloud", "coral", "delta", "ember", "flint",
    "grape", "hazel", "honey", "ivory", "lemon", "maple", "mango", "ocean", "olive",
    "pearl", "piano", "raven", "river", "sable", "stone", "tiger", "tulip", "viola",
)  # fmt: skip
PATHS = ("/tmp/notes", "/tmp/data", "/tmp/log", "/tmp/msg", "/tmp/db", "/tmp/cache", "/tmp/f")
PAIRS = (("A", "B"), ("P", "Q"), ("Writer", "Reader"), ("Alice", "Bob"), ("X", "Y"))
PAGE = 4096
_COMMENT_COL = 48


def lit(text: str) -> str:
    """``text`` as a string literal of the language."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def round_up(n: int) -> int:
    """``n`` rounded up to a whole number of pages."""
    return (n + PAGE - 1) // PAGE * PAGE


class Sheet:
    """The lines of one exercise; its RNG is seeded by topic and seed, so a seed repeats."""

    def __init__(self, topic: str, seed: int, title: str) -> None:
        self.rng = random.Random(f"mmapsim-exercise:{topic}:{seed}")
        self.claims: list[str] = []
        self.lines = [
            f"# Exercise: {title} (topic {topic}, seed {seed}).",
            "# Predict each answer before it is shown: mmapsim quiz THIS_FILE",
            "",
        ]

    def words(self, count: int, length: int | None = None) -> list[str]:
        """``count`` different words (of ``length`` letters when given)."""
        pool = [w for w in WORDS if length is None or len(w) == length]
        return self.rng.sample(pool, count)

    def say(self, text: str) -> None:
        """A line of narration."""
        self.lines.append(f"# {text}")

    def claim(self, *keys: str) -> None:
        """Narrate the lecture's claims that the next questions test."""
        self.lines.append("")
        for key in keys:
            self.claims.append(key)
            self.lines.append(f"# Lecture: {CLAIMS[key]}.")

    def step(self, code: str, comment: str | None = None) -> None:
        """One step, with a comment beside it."""
        if comment is None:
            self.lines.append(code)
        else:
            self.lines.append(f"{code.ljust(_COMMENT_COL - 1)} # {comment}")

    def ask(self, code: str, why: str, among: list[str] | None = None) -> None:
        """A question (``code`` without ``ask``, after its label), with its why."""
        label, sep, rest = code.partition(": ")
        body = f"{label}: ask {rest}" if sep and label.isidentifier() else f"ask {code}"
        if among:
            choices = list(among)
            self.rng.shuffle(choices)
            body += " among " + ", ".join(choices)
        self.step(body, why)

    def text(self) -> str:
        """The whole scenario."""
        return "\n".join(self.lines) + "\n"
