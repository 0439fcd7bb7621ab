"""Parameter coercion and body validation, compiled once per operation.

Every check appends Violations to a list instead of raising, so one request reports
all of its problems at once. Coercion is deliberately a little stricter than
openapi-core: integers are ASCII digits with an optional sign (no `1_000`, no
spaces), numbers must be finite, booleans are `true` or `false` in any case.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jsonschema_rs
import orjson

from .forms import FormError, Upload, parse_multipart
from .schemas import SchemaBook, pointer
from .vocabulary import Violation

_INTEGER = re.compile(r"[+-]?[0-9]+")
_MAX_ECHO = 64
_MAX_MESSAGE = 300
_MAX_REPEATS = 8
MAX_BODY_VIOLATIONS = 50  # a huge invalid array must not produce a huge error body
# JSON bodies nested deeper are refused before their schema is checked: the schema engine and
# the serializer of error bodies both stop near 255 levels, and no API here nests beyond a few
MAX_BODY_DEPTH = 64


def echo(value: str) -> str:
    """A request value quoted for an error message, cut short so messages stay bounded."""
    return repr(value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "...")


def bounded(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "..."


def clip(raw: str | list[str]) -> str | list[str]:
    """A received parameter value, bounded, for a Violation's `value`."""
    return bounded(raw) if isinstance(raw, str) else [bounded(item) for item in raw[:_MAX_REPEATS]]


class CoercionError(ValueError):
    def __init__(self, message: str, expected: str) -> None:
        super().__init__(message)
        self.expected = expected  # the type the value should have had


def rule_of(error: jsonschema_rs.ValidationError) -> tuple[str, Any]:
    """The keyword that failed and its value in the schema (the limit, the enum, the types...)."""
    kind = error.kind
    details = kind.as_dict()
    if len(details) != 1:
        return kind.name, details
    expected = next(iter(details.values()))
    return kind.name, expected[0] if kind.name == "type" and isinstance(expected, list) and len(expected) == 1 else expected


def _to_integer(raw: str) -> int:
    if not _INTEGER.fullmatch(raw):
        raise CoercionError(f"must be an integer, got {echo(raw)}", "integer")
    return _digits_to_int(raw, "integer")


def _digits_to_int(raw: str, expected: str) -> int:
    """`int` of a text of digits, which refuses more than `sys.get_int_max_str_digits()` of them (4,300)."""
    try:
        return int(raw)
    except ValueError as exc:
        raise CoercionError(f"must have at most {sys.get_int_max_str_digits()} digits, got {echo(raw)}", expected) from exc


def _to_number(raw: str) -> float | int:
    if _INTEGER.fullmatch(raw):
        return _digits_to_int(raw, "number")
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise CoercionError(f"must be a number, got {echo(raw)}", "number")
    return number


def _to_boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise CoercionError(f"must be true or false, got {echo(raw)}", "boolean")
    return lowered == "true"


_SCALAR_COERCERS: dict[str, Callable[[str], Any]] = {
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
}


def schema_type(schema: Any) -> str | None:
    """A schema's type, the first but null of a list of them."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


class ParamChecker:
    """Reads, coerces and validates one parameter; appends problems to a list."""

    __slots__ = ("allow_empty", "coerce", "is_array", "label", "last_wins", "location", "name", "required", "separator", "validator")

    def __init__(
        self, param: dict[str, Any], book: SchemaBook, coercers: Mapping[str, Callable[[str], Any]] | None = None, last_wins: bool = False
    ) -> None:
        """`coercers`: type name -> text to value (default: this module's strict ones); `last_wins`: a
        scalar query parameter given more than once takes its last value (else it is refused)."""
        self.name: str = param["name"]
        self.location: str = param["in"]
        self.required: bool = bool(param.get("required")) or self.location == "path"
        self.allow_empty: bool = bool(param.get("allowEmptyValue"))
        raw_schema = param.get("schema", {})
        schema = book.resolve(book.json_schema(raw_schema))
        kind = schema_type(schema)
        self.is_array = kind == "array"
        item_kind = schema_type(book.resolve(schema.get("items", {}))) if self.is_array else kind
        self.coerce = (_SCALAR_COERCERS if coercers is None else coercers).get(item_kind or "")
        self.last_wins = last_wins
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
                problems.append(Violation(self.location, self.name, f"{self.label} is required", "missing", "required", self.name))
            return
        if isinstance(raw, list) and not (self.is_array and self.separator is None):  # only exploded arrays repeat
            if self.last_wins:
                self.check(raw[-1], out, problems)
                return
            problems.append(Violation(self.location, self.name, f"{self.label} must be given once, got {len(raw)} values", value=clip(raw)))
            return
        if raw == "" and self.location == "query" and not self.allow_empty:
            problems.append(Violation(self.location, self.name, f"{self.label} must not be empty", "empty", "minLength", 1, raw))
            return
        try:
            value = self._coerce(raw)
        except CoercionError as exc:
            problems.append(Violation(self.location, self.name, f"{self.label} {exc}", "type", "type", exc.expected, clip(raw)))
            return
        if self.validator is not None:
            for error in self.validator.iter_errors(value):
                keyword, expected = rule_of(error)
                problems.append(
                    Violation(self.location, self.name, f"{self.label}: {bounded(error.message)}", "invalid", keyword, expected, clip(raw))
                )
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
    parse: Callable[[str, bytes], Any] | None  # (Content-Type, raw) -> value; None: the body is passed on as bytes
    validator: jsonschema_rs.Validator | None
    coercers: dict[str, Callable[[str], Any]] = field(default_factory=dict)  # form field -> text to its schema type
    prepared: Callable[[Any], Any] | None = None  # a parsed JSON body -> the one its schema checks (BodyChecker's reader)
    form: bool = False  # multipart/form-data: its fields are coerced from text
    empty_is_form: bool = False  # an empty body is a form without fields (Starlette), not a missing body


class NestingError(ValueError):
    """A JSON body nested deeper than MAX_BODY_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"body is nested more than {MAX_BODY_DEPTH} levels deep")


def _parse_json(content_type: str, raw: bytes) -> Any:
    return _shallow(raw, orjson.loads(raw))


def _shallow(raw: bytes, value: Any) -> Any:
    """The parsed body, unless it nests deeper than MAX_BODY_DEPTH (NestingError)."""
    if too_deep(raw, value, MAX_BODY_DEPTH):
        raise NestingError
    return value


def _parse_json_as_python(content_type: str, raw: bytes) -> Any:
    """`raw` as FastAPI reads it, with Python's json: the encoding found from a BOM or the null
    bytes, NaN, infinities and integers of any size. A string holding a lone surrogate is
    refused as orjson refuses it: nothing could store it or quote it back (FastAPI itself fails
    on it with a 500)."""
    try:
        value = _shallow(raw, json.loads(raw))
    except RecursionError as exc:
        raise NestingError from exc
    if b"\\u" in raw or b"\xed" in raw:  # an escaped surrogate, or one Python decodes with surrogatepass
        try:
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            orjson.loads(raw)  # raises orjson's error, which says where
    return value


def too_deep(raw: bytes, value: Any, limit: int) -> bool:
    """`deeper_than` for a parsed JSON body; a body with no more brackets than the limit cannot
    be that deep, so most bodies are not walked."""
    return raw.count(b"[") + raw.count(b"{") > limit and deeper_than(value, limit)


def deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` (the outermost one is level 1)."""
    if not isinstance(value, (dict, list)):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _form_coercers(schema: Any, book: SchemaBook) -> dict[str, Callable[[str], Any]]:
    """Form fields arrive as text: the ones whose schema is a number or boolean are coerced like query parameters."""
    resolved = book.resolve(book.json_schema(schema))
    properties = resolved.get("properties", {}) if isinstance(resolved, dict) else {}
    coercers = {}
    for name, prop in properties.items():
        coerce = _SCALAR_COERCERS.get(schema_type(book.resolve(prop)) or "")
        if coerce is not None:
            coercers[name] = coerce
    return coercers


class BodyChecker:
    """Checks the request body of one operation against its declared media types."""

    def __init__(
        self,
        request_body: dict[str, Any],
        book: SchemaBook,
        fastapi: bool = False,
        reader: Callable[[Any, Callable[[Any], Any]], Callable[[Any], Any] | None] | None = None,
    ) -> None:
        """`fastapi`: bodies are read as FastAPI reads them, JSON with Python's json
        (`_parse_json_as_python`) and forms as Starlette does (`parse_multipart`). `reader`: (a
        body's schema, the schema book's resolver) -> what turns a parsed body into the one its
        schema then checks (None: the body as parsed), worked out once here."""
        self.required = bool(request_body.get("required"))
        parse_json = _parse_json_as_python if fastapi else _parse_json
        parse_form = partial(parse_multipart, starlette=True) if fastapi else parse_multipart
        self.media: dict[str, MediaChecker] = {}
        for media_type, media in (request_body.get("content") or {}).items():
            base = media_type.split(";")[0].strip().lower()
            schema = (media or {}).get("schema")
            validator = book.compile(schema) if schema is not None else None
            if _is_json(base) or base in ("*/*", "application/*"):
                prepared = reader(book.json_schema(schema), book.resolve) if reader is not None and schema is not None else None
                self.media[base] = MediaChecker(base, parse_json, validator, prepared=prepared)
            elif base == "multipart/form-data":
                coercers = _form_coercers(schema, book) if schema else {}
                self.media[base] = MediaChecker(base, parse_form, validator, coercers, form=True, empty_is_form=fastapi)
            else:
                self.media[base] = MediaChecker(base, None, None)

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

    def check(self, media: MediaChecker | None, content_type: str, raw: bytes, problems: list[Violation]) -> Any:
        """The parsed body; `media` is None when the body has no Content-Type this checker knows."""
        if media is None or (not raw and not media.empty_is_form):
            if self.required:
                problems.append(Violation("body", "", "a request body is required", "missing", "required"))
            return None
        if media.parse is None:
            return raw
        try:
            value = media.parse(content_type, raw)
        except json.JSONDecodeError as exc:  # orjson's error is one too
            problems.append(Violation("body", "", f"body is not valid JSON: {exc}", "malformed", "json", exc.pos, raw))
            return None
        except UnicodeDecodeError as exc:
            problems.append(Violation("body", "", f"body is not valid JSON: {exc}", "malformed", "json", exc.start, raw))
            return None
        except NestingError as exc:
            problems.append(Violation("body", "", str(exc), "malformed", "maxDepth", MAX_BODY_DEPTH))
            return None
        except FormError as exc:
            problems.append(Violation("body", "", f"body is not valid {media.media_type}: {exc}", "malformed", "form", exc.starlette))
            return None
        if media.prepared is not None:
            value = media.prepared(value)
        instance, checkable = value, True
        if media.form:
            value, instance = _coerce_form(value, media, problems)
            checkable = instance is not None
        if media.validator is not None and checkable:
            for count, error in enumerate(media.validator.iter_errors(instance)):
                if count == MAX_BODY_VIOLATIONS:
                    problems.append(Violation("body", "", f"more than {MAX_BODY_VIOLATIONS} problems; the rest are not listed"))
                    break
                problems.append(_body_violation(error))
        return value


def _coerce_form(form: dict[str, str | Upload], media: MediaChecker, problems: list[Violation]) -> tuple[dict[str, Any], Any]:
    """(the form for the handler, with typed fields; the instance its schema checks, or None after a coercion failure)."""
    body: dict[str, Any] = {}
    instance: dict[str, Any] = {}
    failed = False
    for name, part in form.items():
        coerce = media.coercers.get(name)
        if isinstance(part, Upload):
            body[name], instance[name] = part, part.as_schema_value()
            continue
        try:
            body[name] = instance[name] = coerce(part) if coerce else part
        except CoercionError as exc:
            problems.append(Violation("body", "/" + name, f"form field {name!r} {exc}", "type", "type", exc.expected, bounded(part)))
            failed = True
    return body, None if failed else instance


def _body_violation(error: jsonschema_rs.ValidationError) -> Violation:
    keyword, expected = rule_of(error)
    where = pointer(error)
    if keyword == "required":  # point at the missing member itself, not at its parent
        member = str(expected).replace("~", "~0").replace("/", "~1")
        # its value: the object that lacks the member (pydantic's `input`)
        return Violation(
            "body", where.rstrip("/") + "/" + member, f"{expected!r} is required", "missing", keyword, expected, error.instance
        )
    received = error.instance
    return Violation(
        "body",
        where,
        bounded(error.message),
        "type" if keyword == "type" else "invalid",
        keyword,
        expected,
        clip(received) if isinstance(received, str) else received,
    )
