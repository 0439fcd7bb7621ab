"""Scenarios over HTTP: Mesh users shaped at run time (numbers that add up as for generated users),
runtime fixtures (priority, times, successive answers, checked against the spec), every problem of
a refused scenario, export and import, and `--scenario FILE` at start-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockserver.errors import LoadError

from .helpers import JSON, MESH_AUTH, PORTFOLIO, MakeClient, install, price_usd, session_of

OPERATION = "GET /api/v1/holdings/portfolio"
ALICE = {
    "userId": "alice",
    "accountType": "brokerage",
    "positions": [{"symbol": "BTC", "amount": 0.5, "costBasis": 30000}, {"symbol": "AAPL", "amount": 10, "costBasis": 150}],
}


async def portfolio(client: TestClient, prefix: str, user: str) -> tuple[int, Any]:
    response = await client.get(f"{prefix}{PORTFOLIO}", params={"UserId": user}, headers=MESH_AUTH)
    return response.status, await response.json()


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    return await make_client()


async def test_a_shaped_mesh_user_adds_up_like_a_generated_one(client: TestClient) -> None:
    prefix = await session_of(client, "a")
    assert await install(client, prefix, {"mesh": {"users": [ALICE]}}) == (201, {"installed": ["mesh"]})
    status, body = await portfolio(client, prefix, "alice")
    content = body["content"]
    assert status == 200 and body["status"] == "ok"
    (aapl,), (btc,) = content["equityPositions"], content["cryptocurrencyPositions"]
    assert (aapl["symbol"], aapl["amount"], aapl["costBasis"]) == ("AAPL", 10, 150)
    assert (btc["symbol"], btc["amount"], btc["costBasis"]) == ("BTC", 0.5, 30000)
    for position in (aapl, btc):
        assert position["marketValue"] == round(position["amount"] * position["lastPrice"], 4)
        assert position["totalReturn"] == round(position["marketValue"] - position["amount"] * position["costBasis"], 4)
    assert content["portfolioCostBasis"] == 0.5 * 30000 + 10 * 150
    assert content["equitiesValue"] == aapl["marketValue"] and content["cryptocurrenciesValue"] == btc["marketValue"]
    assert aapl["portfolioPercentage"] + btc["portfolioPercentage"] == pytest.approx(100)
    total = content["equitiesValue"] + content["cryptocurrenciesValue"]
    assert content["actualPortfolioPerformance"] == round((total - 16500) / 16500 * 100, 2)


async def test_the_shaped_user_is_priced_at_the_sandbox_clock(client: TestClient) -> None:
    prefix = await session_of(client, "priced")
    await install(client, prefix, {"mesh": {"users": [{"userId": "u", "accountType": "exchange", "positions": [ALICE["positions"][0]]}]}})
    clock = await (await client.get(f"{prefix}/__mock/clock")).json()
    from datetime import datetime

    now = datetime.fromisoformat(clock["now"].replace("Z", "+00:00"))
    btc = (await portfolio(client, prefix, "u"))[1]["content"]["cryptocurrencyPositions"][0]
    assert btc["lastPrice"] == pytest.approx(price_usd("BTC", now), rel=1e-6)


async def test_a_self_custody_user_spreads_each_position_over_networks(client: TestClient) -> None:
    prefix = await session_of(client, "wallet")
    given = [{"network": "eip155:1", "amount": 1.5}, {"network": "eip155:8453", "amount": 0.5}]
    user = {
        "userId": "w",
        "accountType": "self-custody",
        "positions": [{"symbol": "ETH", "amount": 2, "costBasis": 2000, "distribution": given}],
    }
    assert (await install(client, prefix, {"mesh": {"users": [user]}}))[0] == 201
    (eth,) = (await portfolio(client, prefix, "w"))[1]["content"]["cryptocurrencyPositions"]
    assert [(part["caipNetworkId"], part["amount"]) for part in eth["distribution"]] == [("eip155:1", 1.5), ("eip155:8453", 0.5)]
    assert len({part["address"] for part in eth["distribution"]}) == 1


async def test_a_forced_error_answers_in_meshs_envelope(client: TestClient) -> None:
    prefix = await session_of(client, "errors")
    await install(client, prefix, {"mesh": {"users": [{"userId": "b", "error": {"status": 451, "message": "not here"}}]}})
    status, body = await portfolio(client, prefix, "b")
    assert status == 451 and body["status"] == "unavailableForLegalReasons" and body["message"] == "not here"


async def test_a_scenario_is_the_sessions_alone(client: TestClient) -> None:
    prefix = await session_of(client, "mine")
    other = await session_of(client, "other")
    await install(client, prefix, {"mesh": {"users": [ALICE]}})
    mine = (await portfolio(client, prefix, "alice"))[1]["content"]
    assert (await portfolio(client, other, "alice"))[1]["content"] != mine
    assert (await portfolio(client, "", "alice"))[1]["content"] != mine
    assert await (await client.get(f"{other}/__mock/scenarios")).json() == {}


async def test_a_refused_scenario_lists_every_problem_and_installs_nothing(client: TestClient) -> None:
    prefix = await session_of(client, "bad")
    scenario = {
        "mesh": {
            "users": [
                {"userId": "x", "accountType": "exchange", "positions": [{"symbol": "AAPL", "amount": -1, "costBasis": "x"}]},
                {"userId": "", "accountType": "bank", "error": {"status": 418}},
            ]
        },
        "fixtures": [{"api": "mesh", "operation": OPERATION, "response": {"status": 200, "body": {"content": 5}}}],
        "nowhere": {},
    }
    status, body = await install(client, prefix, scenario)
    assert status == 422 and body["detail"] == "the scenario was not installed: 8 problems"
    names = [violation["name"] for violation in body["violations"]]
    assert names == [
        "mesh.users[0].positions[0].symbol",
        "mesh.users[0].positions[0].amount",
        "mesh.users[0].positions[0].costBasis",
        "mesh.users[1].userId",
        "mesh.users[1].accountType",
        "mesh.users[1].error",
        "fixtures[0]",
        "nowhere",
    ]
    assert await (await client.get(f"{prefix}/__mock/scenarios")).json() == {}


@pytest.mark.parametrize("body", [b"[1]", b"{", b'"x"'])
async def test_a_body_that_is_no_scenario_is_400(client: TestClient, body: bytes) -> None:
    response = await client.post("/__mock/scenarios", data=body, headers=JSON)
    assert response.status == 400 and response.content_type == "application/problem+json"


async def test_runtime_fixtures_count_take_turns_and_let_go(client: TestClient) -> None:
    prefix = await session_of(client, "fixtures")
    answer = {"content": {}, "status": "ok"}
    fixtures = [
        {
            "api": "mesh",
            "operation": OPERATION,
            "match": {"query": {"UserId": "carol"}},
            "responses": [{"status": 200, "body": {**answer, "message": "first"}}, {"status": 200, "body": {**answer, "message": "then"}}],
            "times": 3,
        },
        {
            "api": "mesh",
            "operation": OPERATION,
            "match": {"query": {"UserId": "carol"}},
            "response": {"status": 200, "body": {**answer, "message": "low"}},
            "priority": -1,
        },
    ]
    assert (await install(client, prefix, {"fixtures": fixtures}))[0] == 201
    messages = [(await portfolio(client, prefix, "carol"))[1]["message"] for _ in range(5)]
    assert messages == ["first", "then", "then", "low", "low"]
    assert (await portfolio(client, "", "carol"))[1]["message"] == ""  # the default session has none


async def test_the_highest_priority_answers(client: TestClient) -> None:
    prefix = await session_of(client, "priority")
    body = {"content": {}, "status": "ok"}
    fixtures = [
        {"api": "mesh", "operation": OPERATION, "response": {"status": 200, "body": {**body, "message": "any user"}}},
        {
            "api": "mesh",
            "operation": OPERATION,
            "match": {"query": {"UserId": "d"}},
            "response": {"status": 200, "body": {**body, "message": "d"}},
            "priority": 5,
        },
    ]
    await install(client, prefix, {"fixtures": fixtures})
    assert (await portfolio(client, prefix, "d"))[1]["message"] == "d"
    assert (await portfolio(client, prefix, "e"))[1]["message"] == "any user"


async def test_runtime_fixtures_are_a_sessions(client: TestClient) -> None:
    fixture = {"api": "mesh", "operation": OPERATION, "response": {"status": 200}}
    status, body = await install(client, "", {"fixtures": [fixture]})
    assert status == 422 and "session" in body["violations"][0]["message"]


async def test_export_then_import_gives_the_same_world(client: TestClient) -> None:
    prefix = await session_of(client, "saved")
    fixture = {
        "api": "mesh",
        "operation": OPERATION,
        "match": {"query": {"UserId": "f"}},
        "response": {"status": 200, "example": "CEX example"},
    }
    await install(client, prefix, {"mesh": {"users": [ALICE]}, "fixtures": [fixture]})
    saved = await (await client.get(f"{prefix}/__mock/scenarios")).json()
    assert saved == {"mesh": {"users": [ALICE]}, "fixtures": [fixture]}
    copy = await session_of(client, "copy")
    assert (await install(client, copy, saved))[0] == 201
    for user in ("alice", "f"):
        assert await portfolio(client, copy, user) == await portfolio(client, prefix, user)


async def test_a_reset_clears_the_sessions_scenario(client: TestClient) -> None:
    prefix = await session_of(client, "reset")
    await install(client, prefix, {"mesh": {"users": [ALICE]}})
    await client.post(f"{prefix}/__mock/reset", headers=JSON)
    assert await (await client.get(f"{prefix}/__mock/scenarios")).json() == {}


def write(tmp_path: Path, scenario: Any) -> Path:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(scenario))
    return path


async def test_a_scenario_file_is_the_default_sessions_start(make_client: MakeClient, tmp_path: Path) -> None:
    fixture = {
        "api": "mesh",
        "operation": OPERATION,
        "match": {"query": {"UserId": "g"}},
        "response": {"status": 200, "example": "CEX example"},
    }
    client = await make_client(scenario=str(write(tmp_path, {"mesh": {"users": [ALICE]}, "fixtures": [fixture]})))
    shaped = (await portfolio(client, "", "alice"))[1]["content"]
    assert shaped["portfolioCostBasis"] == 16500
    assert (await portfolio(client, "", "g"))[0] == 200
    await client.post("/__mock/reset", headers=JSON)
    assert (await portfolio(client, "", "alice"))[1]["content"] == shaped  # installed again


@pytest.mark.parametrize(
    ("scenario", "problem"),
    [
        ({"fixtures": [{"api": "mesh", "operation": OPERATION, "response": {"status": 200}, "times": 2}]}, "count a session.s requests"),
        ({"mesh": {"users": [{"userId": "x", "accountType": "bank"}]}}, "mesh.users[0].accountType"),
    ],
)
async def test_a_scenario_file_with_problems_stops_the_start(make_client: MakeClient, tmp_path: Path, scenario: Any, problem: str) -> None:
    with pytest.raises(LoadError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        await make_client(scenario=str(write(tmp_path, scenario)))
