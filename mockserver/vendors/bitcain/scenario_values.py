"""The values a bitcain scenario is written in, read as bitcain writes them: instants in whole
seconds of UTC, decimals as plain text, bounded strings. Each reader answers None for a value it
cannot take, and the caller words the problem where it is."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .ledger import iso, parse_iso

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # the range the sandbox clock may be set in
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
INSTANT = "an ISO 8601 instant with its offset, between 2000 and 2100"
_MAX_VALUE_CHARS = 40  # an instant or a decimal given as text


def instant(value: Any) -> str | None:
    """An ISO 8601 instant with its offset within the clock's range, as bitcain writes it."""
    if not isinstance(value, str) or len(value) > _MAX_VALUE_CHARS:
        return None
    try:
        at = parse_iso(value)
    except ValueError:
        return None
    return iso(at) if at.tzinfo is not None and EARLIEST <= at < LATEST else None


def decimal(value: Any, places: int, most: Decimal) -> Decimal | None:
    """A JSON number or decimal string of 0 to `most` with at most `places` decimals."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and len(value) > _MAX_VALUE_CHARS:
        return None
    try:
        found = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):  # ValueError: an integer past Python's digits for str()
        return None
    if not found.is_finite() or not 0 <= found <= most or -found.normalize().as_tuple().exponent > places:
        return None
    return found


def text_within(value: Any, most: int, least: int = 1) -> bool:
    """Whether `value` is a string of `least` to `most` characters."""
    return isinstance(value, str) and least <= len(value) <= most
