"""The language's operators: C's integer arithmetic, and bytes joined or repeated.

Integers are Python's, but no result may pass the language's width
(:data:`mmapsim.scenario.lang.bounds.MAX_INT_BITS`), and no bytes value its length
(:data:`mmapsim.scenario.lang.bounds.MAX_ACCESS`), so that no line can make a value
that exhausts memory or cannot be printed.
"""

from __future__ import annotations

from mmapsim.scenario.lang.bounds import MAX_ACCESS, check_int
from mmapsim.scenario.lang.values import Value, WrongValueError, as_int, kind_of

_OPS = {
    "|": int.__or__,
    "&": int.__and__,
    "^": int.__xor__,
    "+": int.__add__,
    "-": int.__sub__,
    "*": int.__mul__,
    "/": int.__floordiv__,
    "//": int.__floordiv__,
    "%": int.__mod__,
    "<<": int.__lshift__,
    ">>": int.__rshift__,
}


def apply(symbol: str, left: Value, right: Value) -> Value:
    """``left symbol right``; a WrongValueError says why it cannot be computed."""
    if isinstance(left, bytes) and isinstance(right, bytes) and symbol == "+":
        if len(left) + len(right) > MAX_ACCESS:
            raise WrongValueError(f"bytes of more than {MAX_ACCESS} bytes")
        return left + right
    if symbol == "*":
        repeated = _repeat(left, right)
        if repeated is not None:
            return repeated
    try:
        a, b = as_int(left), as_int(right)
    except WrongValueError:
        raise WrongValueError(
            f"cannot apply '{symbol}' to {kind_of(left)} and {kind_of(right)}"
        ) from None
    if symbol in ("<<", ">>") and not 0 <= b < 128:
        raise WrongValueError("a shift by 0 to 127 bits")
    try:
        return check_int(_OPS[symbol](a, b))
    except ZeroDivisionError:
        raise WrongValueError("division by zero") from None


def _repeat(left: Value, right: Value) -> bytes | None:
    """``"x" * 4096`` (or ``4096 * "x"``), when it is that and not too long."""
    if isinstance(left, int) and isinstance(right, bytes):
        left, right = right, left
    if isinstance(left, bytes) and isinstance(right, int) and len(left) * right <= MAX_ACCESS:
        return left * max(right, 0)
    return None
