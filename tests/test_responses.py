"""Answers chosen in order: Prefer -> fixture -> sandbox handler -> spec example -> generated."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
import yaml

from mockserver.schemas import SchemaBook

from .helpers import MESH_AUTH, PORTFOLIO, ROOT, TEST_SPECS

AUTH = {"X-Api-Key": "widget-key"}
LIST = "/widgets/v2/widgets"
MESH = yaml.safe_load((ROOT / "specs" / "mesh.yaml").read_text())
MESH_EXAMPLES = MESH["paths"]["/api/v1/holdings/portfolio"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
WIDGETS = yaml.safe_load((TEST_SPECS / "widgets.yaml").read_text())


def validator(spec: dict[str, Any], schema: Any) -> jsonschema_rs.Validator:
    return SchemaBook(spec, "response").compile(schema)


async def test_spec_example_is_the_default_answer(widgets: Any) -> None:
    response = await widgets.get(LIST, headers=AUTH)
    assert response.status == 200
    assert (
        await response.json()
        == WIDGETS["paths"]["/widgets"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]["two"]["value"]
    )


async def test_prefer_example_by_name(widgets: Any) -> None:
    response = await widgets.get(LIST, headers={**AUTH, "Prefer": "example=none"})
    assert await response.json() == {"items": []}


async def test_prefer_unknown_example_lists_the_known_ones(widgets: Any) -> None:
    response = await widgets.get(LIST, headers={**AUTH, "Prefer": "example=three"})
    body = await response.json()
    assert response.status == 400
    assert "two" in body["detail"] and "none" in body["detail"]


async def test_prefer_code_with_a_schema_generates_a_valid_body(widgets: Any) -> None:
    response = await widgets.get(LIST, headers={**AUTH, "Prefer": "code=429"})
    assert response.status == 429
    body = await response.json()
    schema = WIDGETS["paths"]["/widgets"]["get"]["responses"]["429"]["content"]["application/json"]["schema"]
    assert validator(WIDGETS, schema).is_valid(body)


async def test_prefer_undocumented_code_gives_the_vendor_envelope(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "Prefer": "code=429"})
    body = await response.json()
    assert response.status == 429
    assert body["status"] == "tooManyRequest"
    assert body["errorType"] == "tooManyRequests"


@pytest.mark.parametrize(
    ("code", "status"), [(401, "permissionDenied"), (403, "permissionDenied"), (500, "serverFailure"), (451, "unavailableForLegalReasons")]
)
async def test_prefer_code_renders_mesh_statuses(client: Any, code: int, status: str) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "Prefer": f"code={code}"})
    assert response.status == code
    assert (await response.json())["status"] == status


async def test_prefer_code_200_gives_the_first_documented_example(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "Prefer": "code=200"})
    assert await response.json() == MESH_EXAMPLES["CEX example"]["value"]


async def test_prefer_code_400_gives_the_documented_400_example(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "Prefer": "code=400"})
    assert response.status == 400
    assert (await response.json())["errorHash"] == "f6fc87aa"


async def test_prefer_example_on_mesh(client: Any) -> None:
    headers = {**MESH_AUTH, "Prefer": "example=Self-custody cryptocurrency wallet example"}
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=headers)
    assert await response.json() == MESH_EXAMPLES["Self-custody cryptocurrency wallet example"]["value"]


async def test_prefer_dynamic_generates_a_schema_valid_body(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "Prefer": "dynamic=true"})
    body = await response.json()
    assert response.status == 200
    schema = MESH["paths"]["/api/v1/holdings/portfolio"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert validator(MESH, schema).is_valid(body)


async def test_prefer_seed_makes_generation_repeatable(client: Any) -> None:
    async def fetch(prefer: str) -> bytes:
        response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "Prefer": prefer})
        return await response.read()

    assert await fetch("dynamic=true, seed=1") == await fetch("dynamic=true, seed=1")
    assert await fetch("dynamic=true, seed=1") != await fetch("dynamic=true, seed=2")


async def test_query_parameters_stand_in_for_prefer(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice", "__code": "429"}, headers=MESH_AUTH)
    assert response.status == 429
    response = await client.get(PORTFOLIO, params={"UserId": "alice", "__example": "CEX example"}, headers=MESH_AUTH)
    assert await response.json() == MESH_EXAMPLES["CEX example"]["value"]
    first = await client.get(PORTFOLIO, params={"UserId": "alice", "__dynamic": "true", "__seed": "5"}, headers=MESH_AUTH)
    again = await client.get(PORTFOLIO, params={"UserId": "alice", "__dynamic": "true", "__seed": "5"}, headers=MESH_AUTH)
    assert await first.read() == await again.read()


async def test_prefer_header_wins_over_query_stand_ins(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice", "__code": "500"}, headers={**MESH_AUTH, "Prefer": "code=429"})
    assert response.status == 429


@pytest.mark.parametrize("prefer", ["code=abc", "code=99", "code=600", "dynamic=maybe", "seed=x"])
async def test_bad_prefer_values_are_400(client: Any, prefer: str) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "Prefer": prefer})
    body = await response.json()
    assert response.status == 400
    assert body["errorData"]["violations"][0]["name"] == "Prefer"


async def test_unknown_preferences_are_ignored(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "Prefer": "respond-async, wait=5"})
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_prefer_does_not_bypass_authentication_or_validation(client: Any) -> None:
    assert (await client.get(PORTFOLIO, params={"UserId": "alice"}, headers={"Prefer": "code=200"})).status == 401
    assert (await client.get(PORTFOLIO, headers={**MESH_AUTH, "Prefer": "code=200"})).status == 400


async def test_fixture_by_query_wins_over_example(widgets: Any) -> None:
    response = await widgets.get(LIST, params={"color": "green"}, headers=AUTH)
    assert await response.json() == {"items": []}


async def test_fixture_by_header_with_inline_body_and_headers(widgets: Any) -> None:
    response = await widgets.get(LIST, headers={**AUTH, "X-Trace": "fixture-trace"})
    assert response.headers["X-Fixture"] == "trace-header"
    assert await response.json() == {"items": [{"name": "Traced", "size": 1}]}


async def test_generated_answer_is_schema_valid_and_deterministic(widgets: Any) -> None:
    first = await widgets.get("/widgets/v2/widgets/search", params={"q": "gear"})
    second = await widgets.get("/widgets/v2/widgets/search", params={"q": "gear"})
    other = await widgets.get("/widgets/v2/widgets/search", params={"q": "cog"})
    body = await first.json()
    schema = WIDGETS["paths"]["/widgets/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert validator(WIDGETS, schema).is_valid(body)
    assert await first.read() == await second.read()
    assert await first.read() != await other.read()


async def test_no_content_response(widgets: Any) -> None:
    import base64

    response = await widgets.delete(
        f"{LIST}/4f1e5c1a-8f0e-4e57-9c1e-1f1f1f1f1f1f", headers={"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}
    )
    assert response.status == 204
    assert await response.read() == b""
