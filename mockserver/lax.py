"""Query, path and header values coerced as pydantic's lax mode does, for a vendor whose framework
is FastAPI (`Framework.lax_scalars`): `1.0`, ` 1` and `1_0` are integers, `yes`, `on`, `t`, `1`,
`n`, `off` booleans. pydantic itself decides, so that the mock cannot drift from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .validation import CoercionError, echo, schema_type

_INTEGER = TypeAdapter(int)
_NUMBER = TypeAdapter(float)
_BOOLEAN = TypeAdapter(bool)
_DECIMAL = TypeAdapter(Decimal)


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
_LAX_JSON = {"integer": _INTEGER, "number": _NUMBER, "boolean": _BOOLEAN, "decimal": _DECIMAL}


def refusal_of(kind: str, value: Any) -> tuple[str, str] | None:
    """pydantic's own error type and message for a value of a JSON Schema `kind` it refuses
    (None: it takes the value, or knows no such kind here)."""
    adapter = _LAX_JSON.get(kind)
    if adapter is None:
        return None
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        return error["type"], error["msg"]
    return None


Reader = Callable[[Any], Any]


def lax_reader(schema: Any, resolve: Callable[[Any], Any], depth: int = 0) -> Reader | None:
    """What coerces a parsed JSON body of `schema` as a pydantic model's fields would be (`"true"`,
    `"yes"` and `1` for a boolean, `"0.5"` and `true` for a number, `" 1_000 "` for a decimal
    string, which becomes `"1000"`), worked out once from the
    schema's object properties, additional properties and array items; None when nothing in it
    can be coerced (so a list of 200,000 strings is not walked). A value pydantic refuses stays as
    it was, for the schema check to report; NaN and infinities are never produced."""
    schema = _plain(schema, resolve)
    if not isinstance(schema, dict) or depth > 16:
        return None
    if _decimal_text(schema, resolve):
        return _decimal
    adapter = _LAX_JSON.get(schema_type(schema) or "")
    if adapter is not None:
        return partial(_scalar, adapter)
    below = (schema.get("properties") or {}).items()
    members = {name: reader for name, sub in below if (reader := lax_reader(sub, resolve, depth + 1)) is not None}
    extra = schema.get("additionalProperties")
    others = lax_reader(extra, resolve, depth + 1) if isinstance(extra, dict) else None
    if members or others:
        return partial(_object, members, others)
    items = schema.get("items")
    each = lax_reader(items, resolve, depth + 1) if isinstance(items, dict) else None
    return partial(_array, each) if each is not None else None


def _scalar(adapter: TypeAdapter[Any], value: Any) -> Any:
    if value is None or isinstance(value, (dict, list)):
        return value
    try:
        coerced = adapter.validate_python(value)
    except ValidationError:
        return value
    return value if isinstance(coerced, float) and not math.isfinite(coerced) else coerced


def _decimal_text(schema: dict[str, Any], resolve: Callable[[Any], Any]) -> bool:
    """Whether a schema takes a decimal string (`format: decimal`), alone or as a branch of anyOf."""
    branches = [resolve(branch) for branch in schema.get("anyOf") or ()] or [schema]
    return any(isinstance(branch, dict) and branch.get("format") == "decimal" for branch in branches)


def _decimal(value: Any) -> Any:
    """A string pydantic reads as a finite Decimal, written plainly for the `decimal` format."""
    if not isinstance(value, str):
        return value
    try:
        number = _DECIMAL.validate_python(value)
    except ValidationError:
        return value
    return str(number)


def _object(members: dict[str, Reader], others: Reader | None, value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {name: (members.get(name) or others or _same)(item) for name, item in value.items()}


def _array(each: Reader, value: Any) -> Any:
    return [each(item) for item in value] if isinstance(value, list) else value


def _same(value: Any) -> Any:
    return value


def _plain(schema: Any, resolve: Callable[[Any], Any]) -> Any:
    """The schema behind a `$ref` and a lone `allOf`."""
    schema = resolve(schema)
    while isinstance(schema, dict) and isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
        schema = resolve(schema["allOf"][0])
    return schema
