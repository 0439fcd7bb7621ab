"""Schema -> realistic fake data that the schema's validator accepts, deterministic for a seed.

Works on converted (JSON Schema) schemas; `resolve` follows component refs. Every choice comes
from one `random.Random(seed)`, so the same seed gives the same document in every process.
Strings follow their pattern (generate_strings), format and length; integers and numbers their
bounds, within the safe integers (generate_numbers); arrays their item counts and uniqueness.
A body holds at most MAX_SIZE values and characters: a schema asking for more gets a body cut short.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

from .generate_formats import formatted
from .generate_numbers import integer, number
from .generate_strings import MAX_TEXT, PatternTexts, PreparedPatterns

MAX_DEPTH = 8
MAX_SIZE = 1_000_000  # values plus string characters in one body: a schema asking for more is cut short
UNIQUE_TRIES = 10  # draws per wanted item of a uniqueItems array before settling for fewer


class Generator:
    def __init__(self, seed: int, resolve: Callable[[Any], Any], patterns: PreparedPatterns | None = None) -> None:
        self.rng = random.Random(seed)
        self.resolve = resolve
        self.patterns = PatternTexts(self.rng, patterns)
        self.left = MAX_SIZE

    def value(self, schema: Any, name: str = "", depth: int = 0) -> Any:
        self.left -= 1
        if self.left < 0:
            return None
        schema = self.resolve(schema)
        if schema is True or not isinstance(schema, dict):
            return self._string({}, name)
        if schema.get("if") == {"type": "null"} and "else" in schema:  # a converted nullable composite
            return self.value(schema["else"], name, depth)
        if "allOf" in schema:
            schema = self._merge_all_of(schema)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                options = [self.resolve(o) for o in schema[key]]
                usable = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
                return self.value((usable or options)[0], name, depth)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            choices = [c for c in schema["enum"] if c is not None] or schema["enum"]
            return self.rng.choice(choices)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        maker = getattr(self, f"_{kind}", None)
        return maker(schema, name, depth) if maker else None

    def _merge_all_of(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = self.resolve(part)
            if not isinstance(part, dict):
                continue
            if "allOf" in part:
                part = self._merge_all_of(part)
            for key, value in part.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = sorted({*merged.get("required", []), *value})
                else:
                    merged.setdefault(key, value)
        return merged

    def _null(self, schema: dict[str, Any], name: str, depth: int) -> None:
        return None

    def _boolean(self, schema: dict[str, Any], name: str, depth: int) -> bool:
        return self.rng.random() < 0.5

    def _integer(self, schema: dict[str, Any], name: str, depth: int) -> int:
        return integer(schema, self.rng)

    def _number(self, schema: dict[str, Any], name: str, depth: int) -> float:
        return number(schema, self.rng)

    def _string(self, schema: dict[str, Any], name: str, depth: int = 0) -> str:
        def plain() -> str:
            return _fit_length(formatted(schema.get("format", ""), name, self.rng), schema)

        text = self.patterns.text(schema, plain) if "pattern" in schema else plain()
        self.left -= len(text)
        return text

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", low + 3)
        if depth >= MAX_DEPTH:
            count = low
        else:
            count = self.rng.randint(max(low, min(1, high)), max(low, min(high, low + 3)))
        unique = bool(schema.get("uniqueItems"))
        items = schema.get("items", {})
        values: list[Any] = []
        seen: set[bytes] = set()
        for _ in range(count * UNIQUE_TRIES if unique else count):
            if len(values) == count or self.left <= 0:
                break
            item = self.value(items, name.rstrip("s"), depth + 1)
            if unique:
                key = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)  # equal JSON values, equal keys
                if key in seen:
                    continue
                seen.add(key)
            values.append(item)
        return values

    def _object(self, schema: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        result: dict[str, Any] = {}
        for prop, sub in properties.items():
            if sub is False:
                continue
            if depth >= MAX_DEPTH and prop not in required:
                continue
            result[prop] = self.value(sub, prop, depth + 1)
        return result


def _fit_length(text: str, schema: dict[str, Any]) -> str:
    low, high = min(schema.get("minLength", 0), MAX_TEXT), schema.get("maxLength")
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if high is not None and len(text) > high:
        text = text[:high]
    return text


def generate(schema: Any, seed: int, resolve: Callable[[Any], Any], patterns: PreparedPatterns | None = None) -> Any:
    """The body for `seed`; `patterns`: the spec's prepared patterns, kept across bodies (else prepared for this one)."""
    return Generator(seed, resolve, patterns).value(schema)
