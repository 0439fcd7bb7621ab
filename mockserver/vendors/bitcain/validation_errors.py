"""The items of FastAPI's 422 `detail` list: one Violation worded exactly as pydantic 2 words it.

Each item is `{"type", "loc", "msg", "input", "ctx"}`; parameters come first, then body
problems in the order the model declares its fields. The wording covers missing fields,
types, bounds, lengths, enums, patterns, decimals, unreadable and invalid JSON bodies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from ...lax import refusal_of
from ...vocabulary import Violation

CSV_FIELD = "file"  # the form field of the CSV upload
URLENCODED = "application/x-www-form-urlencoded"

# pydantic reports a model's fields in the order the model declares them (the spec's order)
BODY_FIELDS = (
    "name",
    "description",
    "target_allocations",
    "risk_tolerance",
    "is_active",
    "is_default",
    "initial_value_usd",
    "tags",
    CSV_FIELD,
)


def in_model_order(violations: Sequence[Violation]) -> list[Violation]:
    """Parameters first, as the engine lists them; then body problems in the model's field order. A
    field whose value is not one of its enum is one problem to pydantic, whatever its type."""
    enums = {(v.location, v.name) for v in violations if v.keyword == "enum"}
    violations = [v for v in violations if not (v.keyword == "type" and (v.location, v.name) in enums)]

    def rank(violation: Violation) -> tuple[int, int]:
        if violation.location != "body":
            return 0, 0
        field = violation.name.split("/")[1] if violation.name.count("/") else ""
        return 1, BODY_FIELDS.index(field) if field in BODY_FIELDS else len(BODY_FIELDS)

    return sorted(violations, key=rank)


def value_error(loc: Sequence[str | int], message: str, value: Any) -> dict[str, Any]:
    """What a pydantic validator raising ValueError produces."""
    return {"type": "value_error", "loc": list(loc), "msg": f"Value error, {message}", "input": value, "ctx": {"error": {}}}


def unreadable_body(violation: Violation) -> dict[str, Any]:
    """FastAPI reads a body it cannot parse as JSON as bytes (a model rejects them). A form endpoint
    reads a URL-encoded body as a form too (Starlette's `request.form()`, where the last of a
    repeated field wins), whose `file` is text, not a file; sent anything else, it finds no fields."""
    if "multipart/form-data" in violation.message:
        loc = ["body", CSV_FIELD]
        if violation.expected == URLENCODED and isinstance(violation.value, bytes):
            fields = dict(parse_qsl(violation.value.decode("latin-1"), keep_blank_values=True, encoding="latin-1"))
            if CSV_FIELD in fields:
                return value_error(loc, "Expected UploadFile, received: <class 'str'>", fields[CSV_FIELD])
        return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}
    received = violation.value.decode("utf-8", "replace") if isinstance(violation.value, bytes) else violation.value
    return _model_type(["body"], received)


def _model_type(loc: list[Any], value: Any) -> dict[str, Any]:
    return {
        "type": "model_attributes_type",
        "loc": loc,
        "msg": "Input should be a valid dictionary or object to extract fields from",
        "input": value,
    }


def location(violation: Violation) -> list[str | int]:
    """pydantic's `loc`: where, then the parameter name or the path into the body."""
    if violation.location != "body":
        return [violation.location, violation.name]
    loc: list[str | int] = ["body"]
    if violation.name in ("", "/"):  # the body itself
        return loc
    previous = ""
    for segment in violation.name.split("/")[1:]:
        part = segment.replace("~1", "/").replace("~0", "~")
        loc.append(int(part) if part.isdigit() and previous == "tags" else part)
        previous = part
    return loc


def _number(value: Any) -> str:
    """A limit as pydantic-core writes it in messages (Rust's float display: 1.0 is `1`)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _types(expected: Any) -> list[str]:
    found = [expected] if isinstance(expected, str) else list(expected or [])
    return [kind for kind in found if kind != "null"] or ["string"]


def _choices(options: Sequence[Any]) -> str:
    quoted = [repr(option) for option in options if option is not None]  # null of a nullable enum
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def pydantic_error(violation: Violation) -> dict[str, Any]:
    """One violation as the item pydantic 2 writes for it (FastAPI echoes parameters as received text)."""
    loc = location(violation)
    keyword, expected, value = violation.keyword, violation.expected, violation.value
    if keyword == "required" or violation.reason == "missing":
        # a JSON model's missing member quotes the object that lacks it; a form's file is a parameter of its own
        parent = value if violation.location == "body" and violation.name and violation.name != f"/{CSV_FIELD}" else None
        return {"type": "missing", "loc": loc, "msg": "Field required", "input": parent}
    if keyword == "json":
        return _json_invalid(violation)
    if violation.reason == "empty":
        return _empty(loc, violation.name)
    if keyword == "type":
        return _type_error(loc, _types(expected)[0], value)
    if keyword in ("anyOf", "oneOf"):
        return _decimal_error(loc, value)
    bound = _BOUNDS.get(keyword)
    if bound is not None:
        kind, words, key = bound
        return _typed(loc, kind, f"Input should be {words} {_number(expected)}", value, {key: expected})
    if keyword in ("maxLength", "minLength"):
        longest = keyword == "maxLength"
        kind, words, key = ("string_too_long", "at most", "max_length") if longest else ("string_too_short", "at least", "min_length")
        return _typed(loc, kind, f"String should have {words} {_plural(expected, 'character')}", value, {key: expected})
    if keyword in ("maxItems", "minItems"):
        longest = keyword == "maxItems"
        kind, words, key = ("too_long", "at most", "max_length") if longest else ("too_short", "at least", "min_length")
        count = len(value) if isinstance(value, list) else 0
        message = f"List should have {words} {_plural(expected, 'item')} after validation, not {count}"
        return _typed(loc, kind, message, value, {"field_type": "List", key: expected, "actual_length": count})
    if keyword == "enum":
        choices = _choices(expected)
        return _typed(loc, "enum", f"Input should be {choices}", value, {"expected": choices})
    if keyword == "pattern":
        return _typed(loc, "string_pattern_mismatch", f"String should match pattern '{expected}'", value, {"pattern": expected})
    if keyword == "multipleOf":
        return _typed(loc, "multiple_of", f"Input should be a multiple of {expected}", value, {"multiple_of": expected})
    return value_error(loc, violation.message, value)


_BOUNDS = {
    "minimum": ("greater_than_equal", "greater than or equal to", "ge"),
    "maximum": ("less_than_equal", "less than or equal to", "le"),
    "exclusiveMinimum": ("greater_than", "greater than", "gt"),
    "exclusiveMaximum": ("less_than", "less than", "lt"),
}


def _type_error(loc: list[Any], kind: str, value: Any) -> dict[str, Any]:
    if loc == ["body"]:  # a JSON body that is not an object, null included
        return _model_type(loc, value)
    if kind == "integer":
        if isinstance(value, str):
            return _typed(loc, "int_parsing", "Input should be a valid integer, unable to parse string as an integer", value)
        if isinstance(value, float):
            return _typed(loc, "int_from_float", "Input should be a valid integer, got a number with a fractional part", value)
        return _typed(loc, "int_type", "Input should be a valid integer", value)
    if kind == "number":
        if isinstance(value, str):
            return _typed(loc, "float_parsing", "Input should be a valid number, unable to parse string as a number", value)
        return _typed(loc, "float_type", "Input should be a valid number", value)
    if kind == "boolean":  # pydantic's own words: 2 and "maybe" are bool_parsing, 0.5 and 10**30 bool_type
        error_type, message = refusal_of("boolean", value) or ("bool_type", "Input should be a valid boolean")
        return _typed(loc, error_type, message, value)
    if kind == "array":
        return _typed(loc, "list_type", "Input should be a valid list", value)
    if kind == "object":
        return _typed(loc, "dict_type", "Input should be a valid dictionary", value)
    return _typed(loc, "string_type", "Input should be a valid string", value)


# Typed query parameters: the engine refuses their empty values before coercion, FastAPI while parsing them
_EMPTY_TYPES = {"limit": "integer", "offset": "integer", "days": "integer", "max_pages": "integer"}
_EMPTY_TYPES |= dict.fromkeys(("active_only", "dry_run", "force"), "boolean")
TIMEFRAMES = ("1D", "1W", "1M", "3M", "1Y", "ALL")


def _empty(loc: list[Any], name: str) -> dict[str, Any]:
    if name == "timeframe":
        choices = _choices(TIMEFRAMES)
        return _typed(loc, "enum", f"Input should be {choices}", "", {"expected": choices})
    return _type_error(loc, _EMPTY_TYPES.get(name, "string"), "")


def _typed(loc: list[Any], kind: str, message: str, value: Any, ctx: dict[str, Any] | None = None) -> dict[str, Any]:
    """One pydantic item; `ctx`, when given, holds the limit or choices the message names."""
    item: dict[str, Any] = {"type": kind, "loc": loc, "msg": message, "input": value}
    if ctx is not None:
        item["ctx"] = ctx
    return item


def _decimal_error(loc: list[Any], value: Any) -> dict[str, Any]:
    """The decimal fields accept a number or a numeric string, as pydantic's Decimal does: its own words."""
    error_type, message = refusal_of("decimal", value) or ("decimal_parsing", "Input should be a valid decimal")
    return _typed(loc, error_type, message, value)


def _python_error(raw: bytes) -> json.JSONDecodeError | UnicodeDecodeError | None:
    """What Python's json, FastAPI's parser, says of a body (None: it reads it, or gives up on its depth)."""
    try:
        json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return exc
    except (ValueError, RecursionError):
        return None
    return None


def undecodable(raw: Any) -> bool:
    """A body Python's json cannot even decode to text (FastAPI answers it 400, not 422)."""
    return isinstance(raw, bytes) and isinstance(_python_error(raw), UnicodeDecodeError)


def _json_invalid(violation: Violation) -> dict[str, Any]:
    """FastAPI's own item for a body that is not JSON: the position and message of Python's parser."""
    position, message = violation.expected, violation.message.rpartition(": ")[2]
    raw = violation.value
    if isinstance(raw, (str, bytes)):
        error = _python_error(raw.encode() if isinstance(raw, str) else raw)
        if isinstance(error, json.JSONDecodeError):
            position, message = error.pos, error.msg
        elif isinstance(error, UnicodeDecodeError):
            position, message = error.start, str(error)
    else:
        message = re.sub(r":? line \d+ column \d+ \(char \d+\)$", "", violation.message.partition("not valid JSON: ")[2]) or message
    return {
        "type": "json_invalid",
        "loc": ["body", position if isinstance(position, int) else 0],
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": message},
    }
