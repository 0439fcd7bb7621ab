"""The /__mock control API over HTTP: catalog, journal, verification, faults, reset, control token."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from .helpers import JSON, MESH_AUTH, PORTFOLIO, MakeClient

MESH_API = PORTFOLIO


async def mesh(client: Any, user: str = "cex-example", **headers: str) -> aiohttp.ClientResponse:
    return await client.get(MESH_API, params={"UserId": user}, headers={**MESH_AUTH, **headers})


async def test_apis_lists_every_api_with_credentials_operations_and_spec(client: Any) -> None:
    response = await client.get("/__mock/apis")
    assert response.status == 200
    apis = {api["name"]: api for api in (await response.json())["apis"]}
    assert {"mesh", "omniex", "treasure"} <= set(apis)
    mesh_api = apis["mesh"]
    base = f"http://{client.host}:{client.port}"
    assert mesh_api["baseUrl"] == base + "/mesh"
    assert mesh_api["auth"][0]["headers"] == MESH_AUTH
    operations = [{key: value for key, value in op.items() if key != "example"} for op in mesh_api["operations"]]
    assert {"method": "GET", "path": MESH_API, "operation": "GET /api/v1/holdings/portfolio", "url": base + MESH_API} in operations
    assert all(op["example"]["curl"] for op in mesh_api["operations"])  # tests/test_try_requests.py runs them
    assert {"name": "cex-example", "operation": "GET /api/v1/holdings/portfolio", "try": "UserId=cex-example"} in mesh_api["wellKnown"]
    spec = await client.get(mesh_api["spec"].removeprefix(base))
    assert spec.status == 200
    assert spec.headers["Content-Type"].startswith("application/yaml")
    assert "openapi:" in await spec.text()


async def test_credentials_from_settings_are_not_shown(make_client: MakeClient) -> None:
    client = await make_client(credentials={"mesh": [{"Client-Id": "configured-id", "Client-Secret": "configured-secret"}]})
    body = await (await client.get("/__mock/apis")).json()
    mesh_api = next(api for api in body["apis"] if api["name"] == "mesh")
    assert mesh_api["auth"][0]["headers"] == {"X-Client-Id": "<configured>", "X-Client-Secret": "<configured>"}
    assert "configured-secret" not in str(body) and "configured-id" not in str(body)


async def test_unknown_spec_and_control_route_are_404(client: Any) -> None:
    assert (await client.get("/__mock/apis/nope/spec")).status == 404
    response = await client.get("/__mock/nothing-here")
    assert response.status == 404
    assert response.headers["Content-Type"] == "application/problem+json"


async def test_journal_records_newest_first_with_secrets_redacted(client: Any) -> None:
    await mesh(client, "first")
    await client.post("/treasure/v1/oauth/token", json={"client_id": "mock-treasure-client", "client_secret": "mock-treasure-secret"})
    await client.get("/nowhere")
    body = await (await client.get("/__mock/requests")).json()
    entries = body["requests"]
    assert [entry["path"] for entry in entries] == ["/nowhere", "/treasure/v1/oauth/token", MESH_API]
    assert body["total"] == 3 and body["capacity"] == 1000
    token_call, mesh_call = entries[1], entries[2]
    assert mesh_call["api"] == "mesh" and mesh_call["operation"] == "GET /api/v1/holdings/portfolio" and mesh_call["status"] == 200
    assert mesh_call["query"] == {"UserId": ["first"]}
    assert mesh_call["headers"]["X-Client-Id"] == ["<redacted>"] and mesh_call["headers"]["X-Client-Secret"] == ["<redacted>"]
    assert token_call["body"] == {"client_id": "mock-treasure-client", "client_secret": "<redacted>"}
    assert entries[0]["api"] is None and entries[0]["status"] == 404
    text = str(body)
    for secret in ("sk_sand_mock_secret", "mock-treasure-secret", "mock-client-id"):
        assert secret not in text


async def test_journal_redacts_bearer_tokens_and_signatures(client: Any) -> None:
    await client.get("/treasure/v1/businesses/x/portfolio_history", headers={"Authorization": "Bearer mock-treasure-token"})
    await client.get(
        "/omniex/edge/v1beta/portfolios",
        headers={"ONX-API-KEY": "mock-onx-key", "ONX-API-SIGNATURE": "abc", "ONX-API-TIMESTAMP": "1", "X-Trace": "t-9"},
    )
    text = await (await client.get("/__mock/requests")).text()
    for secret in ("mock-treasure-token", "mock-onx-key", '"abc"'):
        assert secret not in text
    assert '"X-Trace":["t-9"]' in text  # not a credential: kept


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"api": "mesh"}, 2),
        ({"api": "mesh", "status": "400"}, 1),
        ({"operation": "getPortfolios"}, 1),  # routed to the operation, even though unsigned (401)
        ({"method": "post"}, 0),
        ({"path": MESH_API}, 2),
        ({"limit": "1"}, 1),
        ({"since": "2000-01-01T00:00:00Z"}, 3),
        ({"since": str(time.time() + 3600)}, 0),
    ],
)
async def test_journal_filters(client: Any, query: dict[str, str], expected: int) -> None:
    await mesh(client)
    await client.get(MESH_API, headers=MESH_AUTH)  # no UserId: 400
    await client.get("/omniex/edge/v1beta/portfolios")
    body = await (await client.get("/__mock/requests", params=query)).json()
    assert len(body["requests"]) == expected


@pytest.mark.parametrize("query", [{"status": "abc"}, {"since": "yesterday"}, {"limit": "0"}])
async def test_bad_journal_filters_are_400(client: Any, query: dict[str, str]) -> None:
    response = await client.get("/__mock/requests", params=query)
    assert response.status == 400
    assert (await response.json())["status"] == 400


async def test_count_verifies_with_a_matcher(client: Any) -> None:
    await mesh(client, "alice")
    await mesh(client, "bob")
    await mesh(client, "alice", **{"X-Trace": "t-1"})

    async def count(matcher: dict[str, Any]) -> int:
        response = await client.post("/__mock/requests/count", json=matcher)
        assert response.status == 200
        return int((await response.json())["count"])

    assert await count({"api": "mesh"}) == 3
    assert await count({"api": "mesh", "query": {"UserId": "alice"}}) == 2
    assert await count({"headers": {"x-trace": "t-1"}}) == 1
    assert await count({"path": "^/mesh/"}) == 3
    assert await count({"method": "GET", "status": 200}) == 3
    assert await count({"api": "omniex"}) == 0


@pytest.mark.parametrize("matcher", [b"[]", b"{bad", b'{"colour": "red"}', b'{"status": true}', b'{"query": {"a": 1}}'])
async def test_bad_matchers_are_400(client: Any, matcher: bytes) -> None:
    response = await client.post("/__mock/requests/count", data=matcher, headers=JSON)
    assert response.status == 400
    assert (await response.json())["detail"]


async def test_clear_journal(client: Any) -> None:
    await mesh(client)
    response = await client.delete("/__mock/requests", headers=JSON)
    assert await response.json() == {"cleared": 1}
    assert (await (await client.get("/__mock/requests")).json())["requests"] == []


async def test_control_requests_are_not_journalled(client: Any) -> None:
    await client.get("/__mock/health")
    await client.get("/__mock/apis")
    assert (await (await client.get("/__mock/requests")).json())["total"] == 0


async def test_journal_stays_within_its_bound(make_client: MakeClient) -> None:
    client = await make_client(journal_size=50)
    for index in range(300):
        await client.get(MESH_API, params={"UserId": f"user-{index}"}, headers=MESH_AUTH)
    body = await (await client.get("/__mock/requests", params={"limit": "1000"})).json()
    assert body["total"] == 50 and body["capacity"] == 50
    assert body["requests"][0]["query"] == {"UserId": ["user-299"]}
    assert body["requests"][-1]["query"] == {"UserId": ["user-250"]}


async def test_journal_off(make_client: MakeClient) -> None:
    client = await make_client(journal_size=0)
    await mesh(client)
    assert (await (await client.get("/__mock/requests")).json())["total"] == 0


async def test_fault_status_in_the_api_envelope_for_the_next_n_requests(client: Any) -> None:
    response = await client.post("/__mock/faults", json={"api": "mesh", "status": 503, "count": 2})
    assert response.status == 201
    fault = await response.json()
    assert fault["remaining"] == 2
    for _ in range(2):
        failed = await mesh(client)
        assert failed.status == 503
        body = await failed.json()
        assert body["status"] == "serverFailure"  # Mesh's own envelope
    assert (await mesh(client)).status == 200
    assert (await (await client.get("/__mock/faults")).json())["faults"] == []
    journal = (await (await client.get("/__mock/requests")).json())["requests"]
    assert [entry["status"] for entry in journal] == [200, 503, 503]


async def test_fault_scoped_to_an_operation(client: Any) -> None:
    await client.post("/__mock/faults", json={"api": "omniex", "operation": "getPortfolio", "status": 500})
    assert (await mesh(client)).status == 200
    whole = await client.get("/omniex/edge/v1beta/portfolios/abc")
    assert whole.status == 500
    assert (await whole.json())["errors"][0]["error"] == "INTERNAL_SERVER_ERROR"
    listed = await client.get("/omniex/edge/v1beta/portfolios")
    assert listed.status == 401  # unsigned: the operation's own answer, no fault


async def test_latency_fault(client: Any) -> None:
    await client.post("/__mock/faults", json={"api": "mesh", "latencyMs": 150, "count": 1})
    started = time.perf_counter()
    assert (await mesh(client)).status == 200
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    await mesh(client)
    assert time.perf_counter() - started < 0.15


async def test_dropped_connection(client: Any) -> None:
    await client.post("/__mock/faults", json={"api": "mesh", "drop": True, "count": 1})
    with pytest.raises(aiohttp.ClientConnectionError):
        await mesh(client)
    assert (await mesh(client)).status == 200
    journal = (await (await client.get("/__mock/requests")).json())["requests"]
    assert [entry["status"] for entry in journal] == [200, 0]  # 0: dropped


async def _rate_outcomes(make_client: MakeClient) -> list[int]:
    client = await make_client()
    await client.post("/__mock/faults", json={"api": "mesh", "status": 429, "rate": 0.5, "seed": 42})
    return [(await mesh(client)).status for _ in range(20)]


async def test_rate_faults_are_seeded_and_repeatable(make_client: MakeClient) -> None:
    first = await _rate_outcomes(make_client)
    second = await _rate_outcomes(make_client)
    assert first == second
    assert 0 < first.count(429) < 20


@pytest.mark.parametrize(
    "spec",
    [
        {"api": "nope", "status": 500},
        {"api": "mesh"},
        {"api": "mesh", "status": 200},
        {"api": "mesh", "status": 500, "drop": True},
        {"api": "mesh", "operation": "nope", "status": 500},
        {"api": "mesh", "latencyMs": [5, 1]},
        {"api": "mesh", "latencyMs": "slow"},
        {"api": "mesh", "status": 500, "rate": 0},
        {"api": "mesh", "status": 500, "count": 0},
        {"api": "mesh", "status": 500, "colour": "red"},
        [1],
    ],
)
async def test_bad_faults_are_400(client: Any, spec: Any) -> None:
    response = await client.post("/__mock/faults", json=spec)
    assert response.status == 400
    assert (await response.json())["detail"]


async def test_clear_faults(client: Any) -> None:
    await client.post("/__mock/faults", json={"api": "mesh", "status": 500})
    assert len((await (await client.get("/__mock/faults")).json())["faults"]) == 1
    assert (await client.delete("/__mock/faults", headers=JSON)).status == 200
    assert (await mesh(client)).status == 200


async def test_reset_clears_journal_and_faults(client: Any) -> None:
    await client.post("/__mock/faults", json={"api": "mesh", "status": 500})
    await mesh(client)
    response = await client.post("/__mock/reset", headers=JSON)
    assert response.status == 200
    assert "mesh" in (await response.json())["reset"]
    assert (await (await client.get("/__mock/faults")).json())["faults"] == []
    assert (await (await client.get("/__mock/requests")).json())["total"] == 0
    assert (await mesh(client)).status == 200


async def test_control_token_guards_every_control_route(make_client: MakeClient) -> None:
    client = await make_client(control_token="let-me-in")
    for method, path in [
        ("GET", "/__mock/health"),
        ("GET", "/__mock/apis"),
        ("GET", "/__mock/requests"),
        ("POST", "/__mock/reset"),
        ("DELETE", "/__mock/faults"),
    ]:
        refused = await client.request(method, path)
        assert refused.status == 401, path
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = await client.request(method, path, headers={"Authorization": "Bearer let-me-out"})
        assert wrong.status == 401
        allowed = await client.request(method, path, headers={"Authorization": "Bearer let-me-in", **JSON})
        assert allowed.status == 200, path
    assert (await client.get("/__mock/apis", params={"token": "let-me-in"})).status == 401  # the query form is for the page only
    assert (await mesh(client)).status == 200  # the APIs themselves need no control token


async def test_vendor_apis_never_accept_the_control_token(make_client: MakeClient) -> None:
    client = await make_client(control_token="let-me-in")
    response = await client.get("/treasure/v1/businesses/x/portfolio_history", headers={"Authorization": "Bearer let-me-in"})
    assert response.status == 401


async def test_a_control_token_equal_to_a_credential_is_refused(make_client: MakeClient) -> None:
    from mockserver.settings import SettingsError

    with pytest.raises(SettingsError, match="control_token"):
        await make_client(control_token="mock-treasure-token")


async def test_access_log_line_per_request(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="mockserver.access")
    await mesh(client)
    await asyncio.sleep(0)
    lines = [record for record in caplog.records if record.name == "mockserver.access"]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert message.startswith(f"GET {MESH_API} 200 ")
    assert message.endswith(" mesh GET /api/v1/holdings/portfolio")
    assert "sk_sand_mock_secret" not in message and "UserId" not in message


def test_json_log_format() -> None:
    import logging

    import orjson

    from mockserver.logs import JsonFormatter

    record = logging.LogRecord("mockserver.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.http = {"method": "GET", "path": "/x", "status": 200, "durationMs": 1.5}
    record.api = "mesh"
    record.operation = "op"
    line = orjson.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /x" and line["level"] == "info" and line["api"] == "mesh" and line["http"]["status"] == 200
    assert line["time"].endswith("Z")
