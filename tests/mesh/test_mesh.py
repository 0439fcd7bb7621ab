"""Mesh aggregated portfolio: the seed's examples, its rules, and a coherent deterministic world."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import yaml

from ..helpers import MESH_AUTH, PORTFOLIO, ROOT, running_server
from .helpers import assert_coherent, get_portfolio, positions

SPEC = yaml.safe_load((ROOT / "specs" / "mesh.yaml").read_text())
EXAMPLES = SPEC["paths"]["/api/v1/holdings/portfolio"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
ENVELOPE_KEYS = {"status", "message", "displayMessage", "errorHash", "errorType", "errorData"}


async def test_portfolio_for_any_user_is_ok_and_coherent(client: Any) -> None:
    status, body = await get_portfolio(client, UserId="alice")
    assert status == 200
    assert body["status"] == "ok"
    assert body["message"] == "" and body["errorType"] == ""
    assert len(body["errorHash"]) == 8
    assert positions(body["content"])
    assert_coherent(body["content"])


@pytest.mark.parametrize("user", ["alice", "bob", "carol-1", "user@example.com", "ü-unicode", "x" * 200])
async def test_every_user_gets_a_coherent_portfolio(client: Any, user: str) -> None:
    status, body = await get_portfolio(client, UserId=user)
    assert status == 200
    assert_coherent(body["content"])


async def test_same_request_same_answer(client: Any) -> None:
    first = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    second = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    assert await first.read() == await second.read()


async def test_different_users_differ(client: Any) -> None:
    _, alice = await get_portfolio(client, UserId="alice")
    _, bob = await get_portfolio(client, UserId="bob")
    assert alice["content"] != bob["content"]


async def test_seed_changes_the_world(make_client: Any) -> None:
    seeded = await make_client(seed=7)
    default = await make_client()
    _, one = await get_portfolio(seeded, UserId="alice")
    _, two = await get_portfolio(default, UserId="alice")
    assert one["content"] != two["content"]
    assert_coherent(one["content"])


def test_identical_across_restarts() -> None:
    """Two separate server processes give byte-identical answers."""
    import urllib.request

    bodies = []
    for _ in range(2):
        with running_server() as base:
            request = urllib.request.Request(f"{base}{PORTFOLIO}?UserId=alice", headers=MESH_AUTH)
            with urllib.request.urlopen(request) as response:
                bodies.append(response.read())
    assert bodies[0] == bodies[1]


async def test_cex_example_fixture_returns_the_documented_example(client: Any) -> None:
    status, body = await get_portfolio(client, UserId="cex-example")
    assert status == 200
    assert body == EXAMPLES["CEX example"]["value"]


async def test_self_custody_example_fixture_returns_the_documented_example(client: Any) -> None:
    status, body = await get_portfolio(client, UserId="self-custody-example")
    assert status == 200
    assert body == EXAMPLES["Self-custody cryptocurrency wallet example"]["value"]


async def test_empty_portfolio_user(client: Any) -> None:
    _, body = await get_portfolio(client, UserId="empty-portfolio")
    content = body["content"]
    assert content["equityPositions"] == [] and content["cryptocurrencyPositions"] == [] and content["nftPositions"] == []
    assert content["equitiesValue"] == 0 and content["cryptocurrenciesValue"] == 0 and content["portfolioCostBasis"] == 0


async def test_equities_only_user(client: Any) -> None:
    _, body = await get_portfolio(client, UserId="equities-only")
    content = body["content"]
    assert content["equityPositions"] and content["cryptocurrencyPositions"] == []
    assert content["cryptocurrenciesValue"] == 0
    assert all("distribution" not in p for p in content["equityPositions"])
    assert_coherent(content)


async def test_crypto_only_user(client: Any) -> None:
    _, body = await get_portfolio(client, UserId="crypto-only")
    content = body["content"]
    assert content["equityPositions"] == [] and content["cryptocurrencyPositions"]
    assert all("distribution" not in p for p in content["cryptocurrencyPositions"])
    assert_coherent(content)


async def test_brokerage_user_has_both_kinds_and_no_distribution(client: Any) -> None:
    _, body = await get_portfolio(client, UserId="brokerage-and-crypto")
    content = body["content"]
    assert content["equityPositions"] and content["cryptocurrencyPositions"]
    assert all("distribution" not in p for p in positions(content))
    assert_coherent(content)


async def test_self_custody_wallet_has_distribution_summing_to_amount(client: Any) -> None:
    _, body = await get_portfolio(client, UserId="self-custody-wallet")
    content = body["content"]
    assert content["equityPositions"] == []
    addresses = set()
    for position in content["cryptocurrencyPositions"]:
        parts = position["distribution"]
        assert parts
        assert sum(Decimal(str(part["amount"])) for part in parts) == Decimal(str(position["amount"]))
        for part in parts:
            assert part["caipNetworkId"].startswith("eip155:")
            assert part["address"].startswith("0x") and len(part["address"]) == 42
            addresses.add(part["address"])
    assert len(addresses) == 1  # one wallet
    assert_coherent(content)


async def test_timezone_offset_moves_only_the_daily_figures(client: Any) -> None:
    _, utc = await get_portfolio(client, UserId="alice")
    _, east = await get_portfolio(client, UserId="alice", TimezoneOffset="36000")
    utc_positions, east_positions = positions(utc["content"]), positions(east["content"])
    assert [p["marketValue"] for p in utc_positions] == [p["marketValue"] for p in east_positions]
    assert [p["totalDailyReturn"] for p in utc_positions] != [p["totalDailyReturn"] for p in east_positions]
    assert_coherent(east["content"])


async def test_negative_timezone_offset_is_accepted(client: Any) -> None:
    status, body = await get_portfolio(client, UserId="alice", TimezoneOffset="-18000")
    assert status == 200
    assert_coherent(body["content"])


async def test_timezone_offset_beyond_any_real_zone_is_400(client: Any) -> None:
    status, body = await get_portfolio(client, UserId="alice", TimezoneOffset="90000")
    assert status == 400
    assert body["status"] == "badRequest"
    assert "TimezoneOffset" in body["message"]


async def test_missing_user_id_is_400_naming_it(client: Any) -> None:
    response = await client.get(PORTFOLIO, headers=MESH_AUTH)
    body = await response.json()
    assert response.status == 400
    assert set(body) == ENVELOPE_KEYS
    assert body["status"] == "badRequest"
    assert "UserId" in body["message"]
    assert body["errorData"]["violations"] == [{"in": "query", "name": "UserId", "message": "query parameter 'UserId' is required"}]


async def test_every_violation_is_reported(client: Any) -> None:
    response = await client.get(PORTFOLIO, params={"TimezoneOffset": "soon"}, headers=MESH_AUTH)
    body = await response.json()
    assert response.status == 400
    names = [v["name"] for v in body["errorData"]["violations"]]
    assert names == ["UserId", "TimezoneOffset"]
    assert "must be an integer" in body["message"]


@pytest.mark.parametrize("offset", ["1.5", "abc", "", "9223372036854775808", "-9223372036854775809"])
async def test_invalid_timezone_offsets_are_400(client: Any, offset: str) -> None:
    status, body = await get_portfolio(client, UserId="alice", TimezoneOffset=offset)
    assert status == 400
    assert body["status"] == "badRequest"
    assert body["errorData"]["violations"][0]["name"] == "TimezoneOffset"


async def test_empty_user_id_is_400(client: Any) -> None:
    status, body = await get_portfolio(client, UserId="")
    assert status == 400
    assert "UserId" in body["message"]


async def test_unknown_query_parameters_are_ignored(client: Any) -> None:
    status, body = await get_portfolio(client, UserId="alice", extra="1")
    assert status == 200
    assert body["status"] == "ok"


async def test_frozen_clock_setting_changes_prices(make_client: Any) -> None:
    later = await make_client(clock="2026-06-01T12:00:00Z")
    default = await make_client()
    _, one = await get_portfolio(later, UserId="alice")
    _, two = await get_portfolio(default, UserId="alice")
    assert [p["lastPrice"] for p in positions(one["content"])] != [p["lastPrice"] for p in positions(two["content"])]
    assert [p["costBasis"] for p in positions(one["content"])] == [p["costBasis"] for p in positions(two["content"])]


async def test_user_id_given_twice_is_400(client: Any) -> None:
    response = await client.get(PORTFOLIO + "?UserId=a&UserId=b", headers=MESH_AUTH)
    body = await response.json()
    assert response.status == 400
    assert body["errorData"]["violations"][0]["name"] == "UserId"
