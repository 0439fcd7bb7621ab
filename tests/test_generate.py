"""Generated bodies follow their schema for every seed and repeat for the same seed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mockserver.generate import generate
from mockserver.schemas import SchemaBook

from .helpers import ROOT, TEST_SPECS


def response_schemas(spec: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                for media in (response.get("content") or {}).values():
                    if media.get("schema"):
                        found.append((f"{method.upper()} {path} {status}", media["schema"]))
    return found


SPECS = [yaml.safe_load(path.read_text()) for path in (ROOT / "specs" / "mesh.yaml", TEST_SPECS / "widgets.yaml")]
CASES = [(spec, label, schema) for spec in SPECS for label, schema in response_schemas(spec)]


@pytest.mark.parametrize(("spec", "label", "schema"), CASES, ids=[label for _, label, _ in CASES])
def test_generated_bodies_are_valid(spec: dict[str, Any], label: str, schema: Any) -> None:
    book = SchemaBook(spec, "response")
    validator = book.compile(schema)
    converted = book.json_schema(schema)
    for seed in range(60):
        value = generate(converted, seed, book.resolve)
        errors = [error.message for error in validator.iter_errors(value)]
        assert not errors, (label, seed, errors)
        assert generate(converted, seed, book.resolve) == value
