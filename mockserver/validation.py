"""Parameter coercion and body validation, compiled once per operation.

Every check appends Violations to a list instead of raising, so one request reports
all of its problems at once. Coercion is deliberately a little stricter than
openapi-core: integers are ASCII digits with an optional sign (no `1_000`, no
spaces), numbers must be finite, booleans are `true` or `false` in any case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import orjson

from .schemas import SchemaBook, pointer

_INTEGER = re.compile(r"[+-]?[0-9]+")
_MAX_ECHO = 64
_MAX_MESSAGE = 300
MAX_BODY_VIOLATIONS = 50  # a huge invalid array must not produce a huge error body


@dataclass(frozen=True, slots=True)
class Violation:
    location: str  # query, path, header, cookie, body, request
    name: str  # parameter name, or a JSON pointer into the body
    message: str
    # why, for envelopes that carry a code: missing, empty, type, malformed, unsupported or invalid
    reason: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"in": self.location, "name": self.name, "message": self.message}


def echo(value: str) -> str:
    """A request value quoted for an error message, cut short so messages stay bounded."""
    return repr(value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "...")


def bounded(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "..."


class CoercionError(ValueError):
    pass


def _to_integer(raw: str) -> int:
    if not _INTEGER.fullmatch(raw):
        raise CoercionError(f"must be an integer, got {echo(raw)}")
    return int(raw)


def _to_number(raw: str) -> float | int:
    if _INTEGER.fullmatch(raw):
        return int(raw)
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise CoercionError(f"must be a number, got {echo(raw)}")
    return number


def _to_boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise CoercionError(f"must be true or false, got {echo(raw)}")
    return lowered == "true"


_SCALAR_COERCERS: dict[str, Callable[[str], Any]] = {
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
}


def _schema_type(schema: Any) -> str | None:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


class ParamChecker:
    """Reads, coerces and validates one parameter; appends problems to a list."""

    __slots__ = ("allow_empty", "coerce", "is_array", "label", "location", "name", "required", "separator", "validator")

    def __init__(self, param: dict[str, Any], book: SchemaBook) -> None:
        self.name: str = param["name"]
        self.location: str = param["in"]
        self.required: bool = bool(param.get("required")) or self.location == "path"
        self.allow_empty: bool = bool(param.get("allowEmptyValue"))
        raw_schema = param.get("schema", {})
        schema = book.resolve(book.json_schema(raw_schema))
        kind = _schema_type(schema)
        self.is_array = kind == "array"
        item_kind = _schema_type(book.resolve(schema.get("items", {}))) if self.is_array else kind
        self.coerce = _SCALAR_COERCERS.get(item_kind or "")
        style = param.get("style", "form" if self.location in ("query", "cookie") else "simple")
        explode = param.get("explode", style == "form")
        self.separator: str | None = None
        if self.is_array and not (self.location == "query" and explode):
            self.separator = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
        self.validator = book.compile(raw_schema) if _constrains(schema) else None
        self.label = f"{self.location} parameter {self.name!r}" if self.location != "header" else f"header {self.name!r}"

    def read(self, source: Mapping[str, str]) -> Any:
        """The raw value: a string, a list of strings (every value of a query parameter
        given more than once, or of an exploded query array), or None."""
        if self.location == "query":
            values = source.getall(self.name, None)  # type: ignore[attr-defined]  # the query MultiDict
            if values is None or (self.is_array and self.separator is None):
                return values
            return values[0] if len(values) == 1 else values
        return source.get(self.name)

    def check(self, raw: Any, out: dict[str, Any], problems: list[Violation]) -> None:
        if raw is None:
            if self.required:
                problems.append(Violation(self.location, self.name, f"{self.label} is required", "missing"))
            return
        if isinstance(raw, list) and not (self.is_array and self.separator is None):  # only exploded arrays repeat
            problems.append(Violation(self.location, self.name, f"{self.label} must be given once, got {len(raw)} values"))
            return
        if raw == "" and self.location == "query" and not self.allow_empty:
            problems.append(Violation(self.location, self.name, f"{self.label} must not be empty", "empty"))
            return
        try:
            value = self._coerce(raw)
        except CoercionError as exc:
            problems.append(Violation(self.location, self.name, f"{self.label} {exc}", "type"))
            return
        if self.validator is not None:
            for error in self.validator.iter_errors(value):
                problems.append(Violation(self.location, self.name, f"{self.label}: {bounded(error.message)}"))
        out[self.name] = value

    def _coerce(self, raw: Any) -> Any:
        if self.is_array:
            items = raw if isinstance(raw, list) else (raw.split(self.separator) if raw else [])
            return [self.coerce(item) for item in items] if self.coerce else items
        return self.coerce(raw) if self.coerce else raw


def _constrains(schema: Any) -> bool:
    """Whether a schema can reject a value that coercion already accepted."""
    if not isinstance(schema, dict):
        return False
    return any(key not in ("type", "description", "title", "example", "examples", "default", "components") for key in schema)


@dataclass(slots=True)
class MediaChecker:
    media_type: str
    parse: Callable[[bytes], Any] | None  # None: the body is passed on as bytes
    validator: jsonschema_rs.Validator | None


def _parse_json(raw: bytes) -> Any:
    return orjson.loads(raw)


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


class BodyChecker:
    """Checks the request body of one operation against its declared media types."""

    def __init__(self, request_body: dict[str, Any], book: SchemaBook) -> None:
        self.required = bool(request_body.get("required"))
        self.media: dict[str, MediaChecker] = {}
        for media_type, media in (request_body.get("content") or {}).items():
            base = media_type.split(";")[0].strip().lower()
            schema = (media or {}).get("schema")
            json_like = _is_json(base) or base in ("*/*", "application/*")
            self.media[base] = MediaChecker(
                base,
                _parse_json if json_like else None,
                book.compile(schema) if json_like and schema is not None else None,
            )

    @property
    def media_types(self) -> list[str]:
        return list(self.media)

    def find(self, content_type: str) -> MediaChecker | None:
        base = content_type.split(";")[0].strip().lower()
        if base in self.media:
            return self.media[base]
        major = base.split("/")[0]
        return (
            self.media.get(f"{major}/*")
            or self.media.get("*/*")
            or (self.media.get("application/json") if base.endswith("+json") else None)
        )

    def check(self, media: MediaChecker | None, raw: bytes, problems: list[Violation]) -> Any:
        """The parsed body; `media` is None only when there is no body at all."""
        if not raw or media is None:
            if self.required:
                problems.append(Violation("body", "", "a request body is required", "missing"))
            return None
        if media.parse is None:
            return raw
        try:
            value = media.parse(raw)
        except orjson.JSONDecodeError as exc:
            problems.append(Violation("body", "", f"body is not valid JSON: {exc}", "malformed"))
            return None
        if media.validator is not None:
            for count, error in enumerate(media.validator.iter_errors(value)):
                if count == MAX_BODY_VIOLATIONS:
                    problems.append(Violation("body", "", f"more than {MAX_BODY_VIOLATIONS} problems; the rest are not listed"))
                    break
                problems.append(Violation("body", pointer(error), bounded(error.message)))
        return value
