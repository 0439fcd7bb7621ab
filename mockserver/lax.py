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


def lax_body(value: Any, schema: Any, resolve: Callable[[Any], Any]) -> Any:
    """A parsed JSON body with its scalars coerced as a pydantic model's fields would be (`"true"`,
    `"yes"` and `1` for a boolean, `"0.5"` and `true` for a number), walking the schema's object
    properties, additional properties and array items. A value pydantic refuses stays as it was,
    for the schema check to report; NaN and infinities are never produced."""
    schema = _plain(schema, resolve)
    if isinstance(value, dict) and isinstance(schema, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return {
            name: lax_body(item, properties[name] if name in properties else extra if isinstance(extra, dict) else {}, resolve)
            for name, item in value.items()
        }
    if isinstance(value, list) and isinstance(schema, dict) and isinstance(schema.get("items"), dict):
        return [lax_body(item, schema["items"], resolve) for item in value]
    adapter = _LAX_JSON.get(schema_type(schema) or "") if isinstance(schema, dict) and value is not None else None
    if adapter is None or isinstance(value, (dict, list)):
        return value
    try:
        coerced = adapter.validate_python(value)
    except ValidationError:
        return value
    return value if isinstance(coerced, float) and not math.isfinite(coerced) else coerced


def _plain(schema: Any, resolve: Callable[[Any], Any]) -> Any:
    """The schema behind a `$ref` and a lone `allOf`."""
    schema = resolve(schema)
    while isinstance(schema, dict) and isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
        schema = resolve(schema["allOf"][0])
    return schema
