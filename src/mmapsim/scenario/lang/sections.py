"""Time and crashes in the language: ``sleep SECONDS`` and the ``recover:`` section.

``sleep 35`` lets 35 seconds of simulated time pass (``sleep 0.5`` half of
one): no process runs, but the kernel's timers do, so the writeback daemon
writes back what has been dirty for ``dirty_expire_centisecs``.

A line ``recover:`` alone ends the scenario proper.  The lines after it are
the *recovery section*: what runs on a machine booted on the disk that a power
failure left behind, with processes of its own (nothing of the first part
survives but the disk).  ``mmapsim run`` stops before it; ``mmapsim crashes``
runs it once for every crash state the first part can leave.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from mmapsim.clock import NS_PER_SEC
from mmapsim.scenario.lang.diagnostic import ScenarioError
from mmapsim.scenario.lang.lexer import ScannedLine, Word, scan_line
from mmapsim.scenario.lang.syntax import Scenario, Sleep

_RECOVER = re.compile(r"\s*recover\s*:\s*")
#: Why ``recover:`` is no label: it starts the recovery section, alone on its line.
RECOVER_HINT = ": 'recover:' alone on its line starts a file's recovery section (mmapsim crashes)"
_LONGEST_SLEEP_S = 10**9  # about 32 years: more is surely a slip


def is_recover_marker(line: str, number: int, scenario: Scenario) -> bool:
    """Whether ``line`` is ``recover:``; starts the recovery section when it is."""
    code = scan_line(line, number).code
    if not _RECOVER.fullmatch(code):
        return False
    if scenario.recovery is not None:
        first = scenario.recover_line
        raise ScenarioError(
            f"a scenario has one recover: section (it began at line {first})",
            number,
            code.index("recover") + 1,
        )
    scenario.recovery = []
    scenario.recover_line = number
    return True


def parse_sleep(
    scanned: ScannedLine, common: tuple[int, int, str, str | None, str | None], keyword: Word
) -> Sleep:
    """``sleep SECONDS``: a whole or decimal number of seconds, such as 35 or 0.5."""
    text = scanned.code[keyword.end :].strip()
    col = keyword.end + 2
    hint = "sleep needs a number of seconds, such as sleep 35 or sleep 0.5"
    if not text:
        raise ScenarioError(hint, scanned.number, col)
    number = text[:-1].rstrip() if text.endswith("s") else text
    try:
        value = Decimal(number.replace("_", ""))
    except InvalidOperation:
        raise ScenarioError(hint, scanned.number, col) from None
    if not value.is_finite() or not re.fullmatch(r"[0-9_]+(\.[0-9]+)?", number):
        raise ScenarioError(hint, scanned.number, col)
    if value > _LONGEST_SLEEP_S:
        raise ScenarioError(f"sleep at most {_LONGEST_SLEEP_S} seconds", scanned.number, col)
    return Sleep(*common, int(value * NS_PER_SEC))
