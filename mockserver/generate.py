"""Schema -> realistic fake data, deterministic for a given seed.

Works on converted (JSON Schema) schemas; `resolve` follows component refs. The same
seed always produces the same document, so a generated answer is repeatable.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_DEPTH = 8
_EPOCH = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)


_NAME_HINTS: dict[str, str] = {
    "email": "email",
    "name": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "city": "city",
    "country": "country",
    "company": "company",
    "description": "sentence",
    "message": "sentence",
    "phone": "phone_number",
    "url": "url",
    "address": "street_address",
}


class Generator:
    def __init__(self, seed: int, resolve: Callable[[Any], Any]) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.resolve = resolve

    def value(self, schema: Any, name: str = "", depth: int = 0) -> Any:
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
        if "example" in schema and depth > 0 and "enum" not in schema:
            return schema["example"]
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
        low = schema.get("minimum", 0)
        high = schema.get("maximum", max(low, 0) + 1000)
        if "exclusiveMinimum" in schema:
            low = schema["exclusiveMinimum"] + 1
        if "exclusiveMaximum" in schema:
            high = schema["exclusiveMaximum"] - 1
        step = schema.get("multipleOf", 1)
        value = self.rng.randint(int(low), int(max(low, high)))
        return int(value - value % step) if step > 1 and value - value % step >= low else value

    def _number(self, schema: dict[str, Any], name: str, depth: int) -> float:
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0) + 10_000))
        value = round(self.rng.uniform(low, high), 2)
        if value <= schema.get("exclusiveMinimum", float("-inf")) or value >= schema.get("exclusiveMaximum", float("inf")):
            value = (low + high) / 2
        return value

    def _string(self, schema: dict[str, Any], name: str, depth: int = 0) -> str:
        text = self._formatted(schema.get("format", ""), name)
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if len(text) < low:
            text = text + "x" * (low - len(text))
        if high is not None and len(text) > high:
            text = text[:high]
        return text

    def _formatted(self, fmt: str, name: str) -> str:
        moment = _EPOCH - timedelta(minutes=self.rng.randint(0, 60 * 24 * 365))
        if fmt == "date-time":
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if fmt == "date":
            return moment.date().isoformat()
        if fmt == "uuid":
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if fmt in ("uri", "url"):
            return f"https://example.com/{self.rng.getrandbits(32):08x}"
        if fmt == "email":
            return f"user{self.rng.randint(1, 9999)}@example.com"
        if fmt == "ipv4":
            return ".".join(str(self.rng.randint(1, 254)) for _ in range(4))
        hint = _NAME_HINTS.get(name.lower())
        if hint:
            from .fakes import FAKER  # imported by the first value that needs it: slow to load, and most answers never do

            FAKER.seed_instance(self.rng.getrandbits(32))
            return str(getattr(FAKER, hint)())
        return f"{name or 'value'}-{self.rng.getrandbits(24):06x}"

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", low + 3)
        if depth >= MAX_DEPTH:
            count = low
        else:
            count = self.rng.randint(max(low, min(1, high)), max(low, min(high, low + 3)))
        items = schema.get("items", {})
        values = [self.value(items, name.rstrip("s"), depth + 1) for _ in range(count)]
        if schema.get("uniqueItems"):
            unique: list[Any] = []
            for item in values:
                if item not in unique:
                    unique.append(item)
            values = unique if len(unique) >= low else values
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


def generate(schema: Any, seed: int, resolve: Callable[[Any], Any]) -> Any:
    return Generator(seed, resolve).value(schema)
