"""Query, path and header values coerced as pydantic's lax mode does, for a vendor whose framework
is FastAPI (`Framework.lax_scalars`): `1.0`, ` 1` and `1_0` are integers, `yes`, `on`, `t`, `1`,
`n`, `off` booleans. pydantic itself decides, so that the mock cannot drift from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .validation import CoercionError, echo, schema_type

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
_LAX_JSON = {"integer": _INTEGER, "number": _NUMBER, "boolean": _BOOLEAN}


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


def lax_body(value: Any, schema: Any, resolve: Callable[[Any], Any]) -> Any:
    """A parsed JSON body with its scalars coerced as a pydantic model's fields would be (`"true"`,
    `"yes"` and `1` for a boolean, `"0.5"` and `true` for a number), walking the schema's object
    properties, additional properties and array items. A value pydantic refuses stays as it was,
    for the schema check to report; NaN and infinities are never produced."""
    schema = _plain(schema, resolve)
    if isinstance(value, dict) and isinstance(schema, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) and _coerces(extra, resolve) else None
        if not extra and not any(_coerces(sub, resolve) for sub in properties.values()):
            return value  # nothing below to coerce: the members are not walked
        return {
            name: lax_body(item, properties[name], resolve) if name in properties else lax_body(item, extra, resolve) if extra else item
            for name, item in value.items()
        }
    if isinstance(value, list) and isinstance(schema, dict) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        return [lax_body(item, items, resolve) for item in value] if _coerces(items, resolve) else value
    adapter = _LAX_JSON.get(schema_type(schema) or "") if isinstance(schema, dict) and value is not None else None
    if adapter is None or isinstance(value, (dict, list)):
        return value
    try:
        coerced = adapter.validate_python(value)
    except ValidationError:
        return value
    return value if isinstance(coerced, float) and not math.isfinite(coerced) else coerced


def _coerces(schema: Any, resolve: Callable[[Any], Any], depth: int = 0) -> bool:
    """Whether a value of this schema, or one inside it, may be coerced: a body's members and items
    are walked only then (a list of 200,000 strings is not)."""
    schema = _plain(schema, resolve)
    if not isinstance(schema, dict) or depth > 16:
        return False
    if schema_type(schema) in _LAX_JSON:
        return True
    below = [*(schema.get("properties") or {}).values(), schema.get("additionalProperties"), schema.get("items")]
    return any(isinstance(sub, dict) and _coerces(sub, resolve, depth + 1) for sub in below)


def _plain(schema: Any, resolve: Callable[[Any], Any]) -> Any:
    """The schema behind a `$ref` and a lone `allOf`."""
    schema = resolve(schema)
    while isinstance(schema, dict) and isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
        schema = resolve(schema["allOf"][0])
    return schema
