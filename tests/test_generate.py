"""The generator, one schema keyword at a time: every value passes the validator the server uses
(`schemas.validator_of`), the same seed gives the same value in any process, and a costly pattern
is refused before anything is drawn. (Whole bodies of the bundled specs: test_generated_bodies.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest

from mockserver.generate import generate
from mockserver.schemas import convert, validator_of

from .helpers import ROOT

SAFE_INTEGER = 2**53 - 1
SEEDS = range(200)


def same(schema: Any) -> Any:
    return schema


def values(schema: dict[str, Any]) -> list[Any]:
    """A value per seed, each checked against the schema as the server checks it."""
    validator = validator_of(schema)
    made = [generate(schema, seed, same) for seed in SEEDS]
    wrong = [value for value in made if not validator.is_valid(value)]
    assert not wrong, wrong[:3]
    return made


@pytest.mark.parametrize(
    "pattern",
    [
        r"^-?[0-9]+(\.[0-9]+)?$",  # bitcain's Decimal
        r"^[0-9]+\.[0-9]+$",  # Omniex's
        r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",  # Treasure's business_id
        r"^[A-Z]{3}$",
        r"^a.b.c$",  # `.`: Python's reading draws \r, which ECMA-262's does not match
        r"\W+x",
        r"^[^/]{3,}$",
        r"^[^\x00-\x7f]+$",  # beyond ASCII: rstr's printable characters alone cannot
        r"^(ab|cd)\1$",
        r"^(?:\d{3}-)?\d{4}$",
    ],
)
def test_strings_match_their_pattern(pattern: str) -> None:
    assert len(set(values({"type": "string", "pattern": pattern}))) > 1


def test_patterns_prepared_once_for_a_spec_give_the_same_bodies() -> None:
    """A spec's prepared patterns (SchemaBook.patterns) change no body: one entry per distinct
    string schema, however many bodies are drawn with them."""
    schema = {
        "type": "object",
        "properties": {
            "amount": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"},
            "amounts": {"type": "array", "minItems": 3, "items": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}},
            "code": {"type": "string", "pattern": r"^[A-Z]{3}$", "maxLength": 3},
            "bad": {"type": "string", "pattern": "a{100000000}"},
        },
    }
    prepared: dict[Any, Any] = {}
    assert [generate(schema, seed, same, prepared) for seed in SEEDS] == [generate(schema, seed, same) for seed in SEEDS]
    assert len(prepared) == 3 and sum(entry is None for entry in prepared.values()) == 1


def test_a_pattern_is_searched_for_not_matched_whole() -> None:
    made = values({"type": "string", "pattern": "abc", "minLength": 8})
    assert all("abc" in value and len(value) >= 8 for value in made)


def test_a_pattern_meets_the_length_bounds() -> None:
    made = values({"type": "string", "pattern": "^[a-z]+$", "minLength": 12, "maxLength": 14})
    assert {len(value) for value in made} <= {12, 13, 14}


def test_a_format_that_fits_the_pattern_is_a_real_value() -> None:
    made = values({"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "format": "date"})
    assert all(value.startswith(("2025-", "2026-")) for value in made)


def test_an_unreadable_pattern_gives_a_string_without_failing() -> None:
    for pattern in (r"\p{L}+", "(?P<x>a)(?(x)b|c)", "a++", "[", "(" * 500 + "a" + ")" * 500):
        assert isinstance(generate({"type": "string", "pattern": pattern}, 1, same), str)


@pytest.mark.parametrize("pattern", ["a{100000000}", "(a{1000}){1000}", "(?:){100000000}", "(a)\\1{100000}", "[a-z]{6000}", "x" * 5000])
def test_a_costly_pattern_is_refused_before_drawing(pattern: str) -> None:
    started = time.perf_counter()
    value = generate({"type": "string", "pattern": pattern}, 1, same)
    assert time.perf_counter() - started < 0.1
    assert len(value) < 100


def test_a_body_asking_for_too_much_is_cut_short_quickly() -> None:
    huge = {"type": "string", "minLength": 10**9, "pattern": "abc"}
    schema = {
        "type": "array",
        "minItems": 10**6,
        "items": {"type": "array", "minItems": 10**6, "items": {"type": "string", "minLength": 10**9}},
    }
    started = time.perf_counter()
    body = generate({"type": "object", "properties": {"huge": huge, "nested": schema}}, 1, same)
    assert time.perf_counter() - started < 1.0
    assert len(body["huge"]) <= 5_000 and len(str(body["nested"])) < 5_000_000


def test_a_wide_class_is_drawn_from_a_sample() -> None:
    made = values({"type": "string", "pattern": "^[\u0100-\U0010ffff]{20}$"})
    assert all(len(value) == 20 for value in made)


@pytest.mark.parametrize(
    "fmt", ["date-time", "date", "time", "duration", "uuid", "uri", "uri-reference", "email", "hostname", "ipv4", "ipv6", "decimal", "byte"]
)
def test_strings_are_valid_for_their_format(fmt: str) -> None:
    values({"type": "string", "format": fmt})


def test_int64_fields_stay_within_the_safe_integers() -> None:
    made = values(convert({"type": "integer", "format": "int64", "nullable": True}, "response"))
    assert all(isinstance(value, int) and abs(value) <= SAFE_INTEGER for value in made)


@pytest.mark.parametrize(
    ("schema", "low", "high"),
    [
        ({"type": "integer", "minimum": 2**60}, 2**60, None),  # the bounds require more than 2**53
        ({"type": "integer", "maximum": -(2**60)}, None, -(2**60)),
        ({"type": "integer", "minimum": SAFE_INTEGER - 3}, SAFE_INTEGER - 3, SAFE_INTEGER),
        ({"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}, -SAFE_INTEGER, SAFE_INTEGER),
        ({"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 6}, 4, 5),
        ({"type": "integer", "maximum": -5}, None, -5),
        ({"type": "integer", "minimum": 1, "multipleOf": 5000}, 5000, 5000),
        ({"type": "integer", "minimum": 1, "maximum": 100, "multipleOf": 2.5}, 5, 100),
        ({"type": "number", "exclusiveMinimum": 0, "maximum": 1, "multipleOf": 0.01}, 0.01, 1),
        ({"type": "number", "minimum": 1e300}, 1e300, None),
        ({"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 0.51}, 0.5, 0.51),
        ({"type": "number", "format": "double"}, 0, 10_000),
    ],
)
def test_numbers_respect_their_bounds(schema: dict[str, Any], low: float | None, high: float | None) -> None:
    made = values(schema)
    assert all((low is None or value >= low) and (high is None or value <= high) for value in made)
    if "multipleOf" in schema and schema["type"] == "integer":
        assert all(value % 5 == 0 for value in made)


def test_arrays_respect_their_counts_and_uniqueness() -> None:
    made = values(
        {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c", "d"]}, "minItems": 3, "maxItems": 4, "uniqueItems": True}
    )
    assert {len(value) for value in made} <= {3, 4}


def test_enum_const_and_composites() -> None:
    assert set(values({"enum": ["x", "y", None]})) == {"x", "y"}
    assert set(values({"const": 7})) == {7}
    made = values(convert({"nullable": True, "oneOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "boolean"}]}, "response"))
    assert all(isinstance(value, str) and value.isdigit() for value in made)
    values(
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"properties": {"b": {"type": "string"}}},
            ]
        }
    )


def test_the_same_seed_gives_the_same_value_in_another_process() -> None:
    """rstr's negated classes and `\\W` come from sets, whose order a process's hash seed decides."""
    schema = {"type": "object", "properties": {p: {"type": "string", "pattern": p} for p in (r"^\W{8}$", r"^[^a-z]{8}$", "^[0-9a-f]{8}$")}}
    code = f"from mockserver.generate import generate; print(generate({schema!r}, 5, lambda s: s))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        ).stdout
        for hash_seed in ("1", "2", "3")
    }
    assert outputs == {f"{generate(schema, 5, same)}\n"}
