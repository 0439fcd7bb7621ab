"""Generated bodies honour their spec: for every response schema of every bundled OpenAPI spec, many
seeds' bodies pass the validator the server checks responses with, and keep their integers within
what JavaScript reads exactly. Over HTTP, `Prefer: dynamic=true` answers of each vendor satisfy the
patterns and formats their spec sets, and the same request gets the same body, in a new app too.

(Bitpanda's GraphQL API has no `dynamic` preference: its answers come from its resolvers.)"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from mockserver.generate import generate
from mockserver.schemas import SchemaBook

from .bitcain.helpers import AUTH as BITCAIN_AUTH
from .bitcain.helpers import BASE as BITCAIN
from .helpers import MESH_AUTH, PORTFOLIO, ROOT, TEST_SPECS, MakeClient
from .omniex.helpers import BASE as OMNIEX
from .omniex.helpers import signed
from .treasure.helpers import AUTH as TREASURE_AUTH
from .treasure.helpers import DOCUMENT_RANGE, history_url

SAFE_INTEGER = 2**53 - 1
SEEDS = 150  # per response schema: every optional branch, pattern and enum is drawn many times
SPEC_FILES = [*sorted((ROOT / "specs").glob("*.yaml")), TEST_SPECS / "widgets.yaml"]
DYNAMIC = {"Prefer": "dynamic=true"}


def json_responses(path: Path) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(label, spec, schema) of every JSON media type of every response of every operation."""
    spec = yaml.safe_load(path.read_text())
    for route, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                for media_type, media in (response.get("content") or {}).items():
                    if "json" in media_type and (media or {}).get("schema") is not None:
                        yield f"{path.stem} {method.upper()} {route} {status} {media_type}", spec, media["schema"]


CASES = [case for path in SPEC_FILES for case in json_responses(path)]


def integers(value: Any) -> Iterator[int]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from integers(item)
    elif isinstance(value, list):
        for item in value:
            yield from integers(item)


def values_named(value: Any, name: str) -> Iterator[Any]:
    """Every value of a property with this name, anywhere in the document."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == name:
                yield item
            yield from values_named(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from values_named(item, name)


def test_every_bundled_spec_has_response_schemas() -> None:
    assert {label.split()[0] for label, _, _ in CASES} == {"bitcain", "mesh", "omniex", "treasure", "widgets"}


@pytest.mark.parametrize(("label", "spec", "schema"), CASES, ids=[label for label, _, _ in CASES])
def test_generated_bodies_pass_the_response_validator(label: str, spec: dict[str, Any], schema: Any) -> None:
    book = SchemaBook(spec, "response")
    validator = book.compile(schema)  # as plan.py compiles every documented response
    converted = book.json_schema(schema)
    for seed in range(SEEDS):
        body = generate(converted, seed, book.resolve)
        errors = [f"{'/'.join(map(str, error.instance_path))}: {error.message}" for error in validator.iter_errors(body)]
        assert not errors, (seed, errors[:3])
        assert all(-SAFE_INTEGER <= number <= SAFE_INTEGER for number in integers(body)), seed
    assert generate(converted, 7, book.resolve) == generate(converted, 7, book.resolve)


def spec_validator(name: str, route: str, status: str = "200") -> Any:
    spec = yaml.safe_load((ROOT / "specs" / f"{name}.yaml").read_text())
    schema = spec["paths"][route]["get"]["responses"][status]["content"]["application/json"]["schema"]
    return SchemaBook(spec, "response").compile(schema)


async def dynamic_body(client: Any, target: str, headers: dict[str, str], **query: str) -> bytes:
    response = await client.get(target, params=query, headers={**headers, **DYNAMIC})
    assert response.status == 200, await response.text()
    return await response.read()


async def same_in_a_new_app(make_client: MakeClient, first: bytes, target: str, headers: dict[str, str], **query: str) -> None:
    assert await dynamic_body(await make_client(), target, headers, **query) == first


async def test_dynamic_omniex_balances_are_decimal_strings(client: Any, make_client: MakeClient) -> None:
    target = f"{OMNIEX}/portfolios"
    raw = await dynamic_body(client, target, signed("GET", target))
    body = orjson.loads(raw)
    assert spec_validator("omniex", "/portfolios").is_valid(body)
    decimals = [value for name in ("free", "locked", "total") for value in values_named(body, name)]
    assert decimals and all(re.fullmatch(r"[0-9]+\.[0-9]+", value) for value in decimals)
    assert await dynamic_body(client, target, signed("GET", target)) == raw
    await same_in_a_new_app(make_client, raw, target, signed("GET", target))


async def test_dynamic_treasure_history_names_a_urn_business(client: Any, make_client: MakeClient) -> None:
    target = history_url()
    raw = await dynamic_body(client, target, TREASURE_AUTH, **DOCUMENT_RANGE)
    body = orjson.loads(raw)
    assert spec_validator("treasure", "/v1/businesses/{business_id}/portfolio_history").is_valid(body)
    assert re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", body["business_id"])
    assert await dynamic_body(client, target, TREASURE_AUTH, **DOCUMENT_RANGE) == raw
    await same_in_a_new_app(make_client, raw, target, TREASURE_AUTH, **DOCUMENT_RANGE)


async def test_dynamic_bitcain_balances_are_decimal_strings(client: Any, make_client: MakeClient) -> None:
    target = f"{BITCAIN}/balances"
    raw = await dynamic_body(client, target, BITCAIN_AUTH)
    body = orjson.loads(raw)
    assert spec_validator("bitcain", "/api/v1/portfolio/balances").is_valid(body)
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", body["total_value_usd"])
    assert await dynamic_body(client, target, BITCAIN_AUTH) == raw
    await same_in_a_new_app(make_client, raw, target, BITCAIN_AUTH)


async def test_dynamic_mesh_int64_fields_stay_safe_integers(client: Any, make_client: MakeClient) -> None:
    query = {"UserId": "alice"}
    raw = await dynamic_body(client, PORTFOLIO, MESH_AUTH, **query)
    body = orjson.loads(raw)
    assert spec_validator("mesh", "/api/v1/holdings/portfolio").is_valid(body)
    int64s = [value for name in ("numberOfSales", "createdTimestamp", "updatedTimestamp") for value in values_named(body, name)]
    assert int64s and all(isinstance(value, int) and abs(value) <= SAFE_INTEGER for value in int64s)
    await same_in_a_new_app(make_client, raw, PORTFOLIO, MESH_AUTH, **query)


def costly_spec(folder: Path) -> None:
    """A user's spec whose patterns would take a naive generator a long time or much memory."""
    alternation = "|".join(f"w{index}" for index in range(300))
    strings = {
        "long": {"type": "string", "pattern": "^[a-z]{100000}$"},
        "alternation": {"type": "string", "pattern": f"^({alternation})$"},
        "repeats": {"type": "string", "pattern": "^(x|y)*z{3000}$"},
        "nested": {"type": "string", "pattern": "^((a|b)+(c|d)*){1,50}$"},
    }
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "Costly patterns", "version": "1"},
        "servers": [{"url": "https://costly.example.com/v1"}],
        "paths": {
            "/things": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "a thing",
                            "content": {
                                "application/json": {"schema": {"type": "object", "required": list(strings), "properties": strings}}
                            },
                        }
                    }
                }
            }
        },
    }
    (folder / "costly.yaml").write_text(yaml.safe_dump(spec))


async def test_a_costly_pattern_gets_a_quick_finite_answer(make_client: MakeClient, tmp_path: Path) -> None:
    costly_spec(tmp_path)
    client = await make_client(specs=[tmp_path])
    started = time.perf_counter()
    response = await client.get("/costly/v1/things", headers=DYNAMIC)
    elapsed = time.perf_counter() - started
    body = await response.json()
    assert response.status == 200, body
    assert elapsed < 1.0
    assert len(body["long"]) < 100_000  # refused before drawing: not the 100,000 letters
    assert re.fullmatch(r"w[0-9]+", body["alternation"])
    assert re.fullmatch(r"[xy]*z{3000}", body["repeats"])
    assert re.fullmatch(r"((a|b)+(c|d)*){1,50}", body["nested"])
