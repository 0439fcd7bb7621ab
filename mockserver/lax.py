"""Query, path and header values coerced as pydantic's lax mode does, for a vendor whose framework
is FastAPI (`Framework.lax_scalars`): `1.0`, ` 1` and `1_0` are integers, `yes`, `on`, `t`, `1`,
`n`, `off` booleans. pydantic itself decides, so that the mock cannot drift from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .validation import CoercionError, echo

_INTEGER = TypeAdapter(int)
_NUMBER = TypeAdapter(float)
_BOOLEAN = TypeAdapter(bool)


def _integer(raw: str) -> int:
    try:
        return _INTEGER.validate_python(raw)
    except ValidationError as exc:
        raise CoercionError(f"must be an integer, got {echo(raw)}", "integer") from exc


def _number(raw: str) -> float:
    try:
        number = _NUMBER.validate_python(raw)
    except ValidationError as exc:
        raise CoercionError(f"must be a number, got {echo(raw)}", "number") from exc
    if not math.isfinite(number):  # no JSON Schema check can take NaN or infinity further
        raise CoercionError(f"must be a finite number, got {echo(raw)}", "number")
    return number


def _boolean(raw: str) -> bool:
    try:
        return _BOOLEAN.validate_python(raw)
    except ValidationError as exc:
        raise CoercionError(f"must be a boolean, got {echo(raw)}", "boolean") from exc


LAX_COERCERS: dict[str, Callable[[str], Any]] = {"integer": _integer, "number": _number, "boolean": _boolean}
