"""Choosing the answer: Prefer header -> fixture -> sandbox handler -> spec example -> generated.

`Prefer` works as in Prism: `code=N`, `example=NAME`, `dynamic=true`, `seed=N`, and
`__code=`, `__example=`, `__dynamic=`, `__seed=` query parameters stand in for it
when no Prefer header is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import orjson

from .generate import generate
from .schemas import SchemaBook
from .validation import echo
from .vocabulary import Reply, Violation

PREFER_KEYS = ("code", "example", "dynamic", "seed")
CONTROL_QUERY_KEYS = frozenset(f"__{key}" for key in PREFER_KEYS)


@dataclass(frozen=True, slots=True)
class Preferences:
    code: int | None = None
    example: str | None = None
    dynamic: bool = False
    seed: int | None = None

    @property
    def steers(self) -> bool:
        """Whether the client asked for a particular answer rather than the normal one."""
        return self.code is not None or self.example is not None or self.dynamic


NO_PREFERENCES = Preferences()


def _parse_prefer(header: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in header.replace(";", ",").split(","):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip().lower() in PREFER_KEYS:
            pairs[key.strip().lower()] = value.strip().strip('"')
    return pairs


def read_preferences(prefer_header: str | None, query: Mapping[str, str]) -> tuple[Preferences, list[Violation]]:
    """The client's preferences and any problems with their values (unknown preferences are ignored)."""
    if prefer_header is not None:
        raw, location, label = _parse_prefer(prefer_header), "header", "Prefer"
    else:
        raw = {key[2:]: query[key] for key in CONTROL_QUERY_KEYS if key in query}
        location, label = "query", "__"
        if not raw:
            return NO_PREFERENCES, []
    problems: list[Violation] = []

    def bad(key: str, why: str) -> None:
        name = "Prefer" if location == "header" else f"__{key}"
        problems.append(Violation(location, name, f"{label if location == 'header' else name} {key}: {why}"))

    code = seed = None
    if "code" in raw:
        if raw["code"].isdigit() and 100 <= int(raw["code"]) <= 599:
            code = int(raw["code"])
        else:
            bad("code", f"must be an HTTP status between 100 and 599, got {echo(raw['code'])}")
    if "seed" in raw:
        try:
            seed = int(raw["seed"])
        except ValueError:
            bad("seed", f"must be an integer, got {echo(raw['seed'])}")
    dynamic = raw.get("dynamic", "false").lower()
    if dynamic not in ("true", "false"):
        bad("dynamic", f"must be true or false, got {echo(raw['dynamic'])}")
    return Preferences(code, raw.get("example"), dynamic == "true", seed), problems


@dataclass
class ResponseSpec:
    """One documented response of an operation, with its examples serialized once."""

    status: int | None  # None: the `default` response
    content_type: str | None
    schema: Any  # converted (response mode), None when there is no content
    examples: dict[str, Any]
    serialized: dict[str, bytes]
    validator: jsonschema_rs.Validator | None

    @property
    def informative(self) -> bool:
        """Whether the schema says anything a generated body could follow."""
        return isinstance(self.schema, dict) and any(k != "components" for k in self.schema)


def examples_of(media: dict[str, Any]) -> dict[str, Any]:
    """Named example values of a media type or parameter object (`examples`, `example`, or the schema's)."""
    if "examples" in media:
        return {name: ex.get("value") for name, ex in media["examples"].items() if isinstance(ex, dict) and "value" in ex}
    if "example" in media:
        return {"example": media["example"]}
    schema = media.get("schema")
    if isinstance(schema, dict) and "example" in schema:
        return {"example": schema["example"]}
    return {}


def _pick_media(content: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    for media_type, media in content.items():
        if "json" in media_type:
            return media_type, media or {}
    return next(iter(content.items()), (None, {}))


class ResponseBook:
    """The documented responses of one operation."""

    def __init__(self, responses: dict[str, Any], book: SchemaBook) -> None:
        self.book = book
        self.by_status: dict[int, ResponseSpec] = {}
        self.default: ResponseSpec | None = None
        for key, response in (responses or {}).items():
            content_type, media = _pick_media((response or {}).get("content") or {})
            raw_schema = media.get("schema")
            examples = examples_of(media)
            spec = ResponseSpec(
                status=int(key) if str(key).isdigit() else None,
                content_type=content_type,
                schema=book.json_schema(raw_schema) if raw_schema is not None else None,
                examples=examples,
                serialized={name: orjson.dumps(value) for name, value in examples.items()},
                validator=book.compile(raw_schema) if raw_schema is not None else None,
            )
            if spec.status is not None:
                self.by_status[spec.status] = spec
            elif str(key) == "default":
                self.default = spec
        success = sorted(code for code in self.by_status if 200 <= code < 300)
        self.success: ResponseSpec | None = self.by_status[success[0]] if success else self.default

    def for_status(self, status: int) -> ResponseSpec | None:
        return self.by_status.get(status) or self.default

    @staticmethod
    def status_of(spec: ResponseSpec, wanted: int | None = None) -> int:
        return wanted or spec.status or 200

    def example_reply(self, spec: ResponseSpec, name: str | None = None, status: int | None = None) -> Reply | None:
        if not spec.serialized:
            return None
        key = name if name is not None else next(iter(spec.serialized))
        body = spec.serialized.get(key)
        if body is None:
            return None
        return Reply(self.status_of(spec, status), body, spec.content_type or "application/json")

    def generated_reply(self, spec: ResponseSpec, seed: int, status: int | None = None) -> Reply:
        if spec.schema is None:
            return Reply(self.status_of(spec, status), b"", spec.content_type or "")
        value = generate(spec.schema, seed, self.book.resolve, self.book.patterns)
        return Reply(self.status_of(spec, status), orjson.dumps(value), spec.content_type or "application/json")
