"""Generated integers and numbers: within the schema's bounds and multipleOf, near zero when the
bounds allow (0 to 1,000 for an integer, to 10,000 for a number), and within +/-(2**53 - 1), what a
JavaScript client reads exactly, unless the schema's own bounds lie outside it (`minimum: 2**60`).

An int32 or int64 format's own range (which schemas.convert writes as bounds) is no bound here: it
would only spread the values over the whole range."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Any

from .schemas import INT_RANGES

SAFE_INTEGER = 2**53 - 1
INTEGER_SPAN = 1_000
NUMBER_SPAN = 10_000


def integer(schema: dict[str, Any], rng: random.Random) -> int:
    low, high = _integer_bounds(schema)
    start, end = _window(low, high, INTEGER_SPAN)
    step = _integer_step(schema.get("multipleOf"))
    first, last = -(-start // step), end // step
    if first > last:  # no multiple in the window: the one nearest zero the bounds allow
        first = last = -(-low // step) if low is not None else end // step
    return rng.randint(first, last) * step


def number(schema: dict[str, Any], rng: random.Random) -> float:
    low, high = _bound(schema, "minimum", "exclusiveMinimum", max), _bound(schema, "maximum", "exclusiveMaximum", min)
    start, end = _window(low, high, NUMBER_SPAN)
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
        exact = Fraction(str(step))
        first, last = math.ceil(start / exact), math.floor(end / exact)
        candidates = [float(k * exact) for k in (rng.randint(first, last), first, last)] if first <= last else []
    else:
        candidates = [round(rng.uniform(start, end), 2)]
    candidates.append((start + end) / 2)  # rounding or an exclusive bound can push a value out
    return next((value for value in candidates if _within(schema, value)), candidates[-1])


def _integer_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    """The smallest and largest integers the schema allows (None: no bound but the format's)."""
    lows = [math.ceil(v) for v in _given(schema, "minimum")] + [math.floor(v) + 1 for v in _given(schema, "exclusiveMinimum")]
    highs = [math.floor(v) for v in _given(schema, "maximum")] + [math.ceil(v) - 1 for v in _given(schema, "exclusiveMaximum")]
    format_low, format_high = INT_RANGES.get(schema.get("format", ""), (None, None))
    low, high = max(lows, default=None), min(highs, default=None)
    return (None if low == format_low else low), (None if high == format_high else high)


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, tighter: Any) -> float | None:
    """The tighter of an inclusive and an exclusive bound, as a number to draw from."""
    return tighter([*_given(schema, inclusive), *_given(schema, exclusive)], default=None)  # type: ignore[no-any-return]


def _given(schema: dict[str, Any], key: str) -> list[float]:
    value = schema.get(key)
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


def _window(low: Any, high: Any, span: int) -> tuple[Any, Any]:
    """Where to draw: from zero (or the minimum) up to `span` further, inside the bounds, then
    inside the safe integers when the bounds leave any of them."""
    start = 0 if low is None else max(low, 0)
    if high is not None and high < start:
        start = high - span if low is None else max(high - span, low)
    end = start + span if high is None else min(start + span, high)
    if end >= -SAFE_INTEGER and start <= SAFE_INTEGER:
        start, end = max(start, -SAFE_INTEGER), min(end, SAFE_INTEGER)
    return start, end


def _integer_step(multiple: Any) -> int:
    """The step between integers that are multiples of `multiple` (2.5: 5), 1 without one."""
    if not isinstance(multiple, int | float) or isinstance(multiple, bool) or multiple <= 0:
        return 1
    return Fraction(str(multiple)).numerator


def _within(schema: dict[str, Any], value: float) -> bool:
    checks = (
        ("minimum", lambda bound: value >= bound),
        ("exclusiveMinimum", lambda bound: value > bound),
        ("maximum", lambda bound: value <= bound),
        ("exclusiveMaximum", lambda bound: value < bound),
    )
    return all(check(schema[key]) for key, check in checks if key in schema)
