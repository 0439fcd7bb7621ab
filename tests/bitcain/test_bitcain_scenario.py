"""bitcain scenarios over HTTP: a user's ledger entries and portfolios shaped at run time and
answered as the ledger and the portfolios the API writes are (each number worked out here again
from the shared prices), every problem of a refused scenario, export and import, and sessions
that keep their scenario to themselves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockserver.sandbox.market import round_price

from ..helpers import JSON, ROOT, MakeClient, install, price_usd, session_of
from .helpers import AUTH, BASE, SANDBOX_USER

NOW = datetime(2026, 1, 15, 15, tzinfo=UTC)
BTC_BOUGHT, ETH_BOUGHT, BTC_SOLD = (
    datetime(2024, 3, 1, 12, tzinfo=UTC),
    datetime(2024, 6, 1, 8, 30, tzinfo=UTC),
    datetime(2025, 6, 2, 9, tzinfo=UTC),
)
LEDGER = [
    {
        "id": "btc-buy",
        "at": "2024-03-01T12:00:00Z",
        "kind": "buy",
        "asset": "BTC",
        "quantity": "0.5",
        "price_usd": "30000",
        "fee_usd": "15",
        "exchange": "coinbase",
    },
    {"at": "2024-06-01T08:30:00+00:00", "kind": "buy", "asset": "ETH", "quantity": 2, "exchange": "binanceus"},
    {"id": "btc-sale", "at": "2025-06-02T09:00:00Z", "kind": "sell", "asset": "BTC", "quantity": "0.1", "exchange": "coinbase"},
]
CORE = {
    "name": "Core",
    "target_allocations": {"BTC": 0.6, "ETH": 0.3, "USDC": 0.1},
    "initial_value_usd": "10000",
    "created_at": "2026-01-15T15:00:00Z",
    "tags": ["core"],
    "is_default": True,
}
SHAPED = {"bitcain": {"users": [{"user_id": SANDBOX_USER, "ledger": LEDGER, "portfolios": [CORE]}]}}


def market(asset: str, at: datetime) -> Decimal:
    """The price bitcain quotes: the shared market's, rounded as every API shows it."""
    return Decimal(str(round_price(price_usd(asset, at))))


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def satoshis(value: Decimal) -> Decimal:
    """A quantity as an exchange credits it: cut to 8 decimals."""
    return value.quantize(Decimal("0.00000001"), ROUND_DOWN)


async def frozen_session(client: TestClient, name: str, now: datetime = NOW) -> str:
    """A new session, its clock frozen at `now`: its prefix."""
    prefix = await session_of(client, name)
    response = await client.put(f"{prefix}/__mock/clock", json={"now": now.isoformat(), "frozen": True}, headers=JSON)
    assert response.status == 200
    return prefix


async def read(client: TestClient, path: str, headers: dict[str, str] = AUTH, **query: str) -> Any:
    response = await client.get(path, params=query, headers=headers)
    body = await response.json()
    assert response.status == 200, body
    return body


async def test_a_shaped_ledger_is_answered_from_its_entries(client: TestClient) -> None:
    prefix = await frozen_session(client, "ledger")
    assert await install(client, prefix, SHAPED) == (201, {"installed": ["bitcain"]})
    btc_now, eth_now = market("BTC", NOW), market("ETH", NOW)
    btc_value, eth_value = cents(Decimal("0.4") * btc_now), cents(2 * eth_now)

    coinbase = await read(client, f"{prefix}{BASE}/balances", exchange="coinbase")
    (btc,) = coinbase["balances"]
    assert (btc["asset"], btc["total"], btc["price_usd"], btc["value_usd"]) == ("BTC", "0.40000000", f"{btc_now:f}", f"{btc_value:f}")
    assert Decimal(btc["free"]) + Decimal(btc["locked"]) == Decimal("0.4")
    assert coinbase["user_id"] == SANDBOX_USER and coinbase["total_value_usd"] == f"{btc_value:f}"
    (eth,) = (await read(client, f"{prefix}{BASE}/balances", exchange="binanceus"))["balances"]
    assert (eth["asset"], eth["total"], eth["value_usd"]) == ("ETH", "2.00000000", f"{eth_value:f}")
    assert (await read(client, f"{prefix}{BASE}/balances", exchange="kraken"))["balances"] == []

    basis = await read(client, f"{prefix}{BASE}/cost-basis")
    eth_cost = cents(2 * market("ETH", ETH_BOUGHT))  # no price given: the market's at its instant, no fee
    btc_realized = cents(Decimal("0.1") * market("BTC", BTC_SOLD) - Decimal("3003"))  # 0.1 of the lot's 15,015 paid
    rows = {row["asset"]: row for row in basis["assets"]}
    assert (rows["BTC"]["cost_basis_usd"], rows["BTC"]["realized_pnl_usd"], rows["BTC"]["lot_count"]) == (
        "12012.00",
        f"{btc_realized:f}",
        1,
    )
    assert rows["BTC"]["unrealized_pnl_usd"] == f"{btc_value - Decimal('12012.00'):f}"
    assert (rows["ETH"]["cost_basis_usd"], rows["ETH"]["realized_pnl_usd"]) == (f"{eth_cost:f}", "0.00")
    assert basis["total_cost_basis_usd"] == f"{Decimal('12012.00') + eth_cost:f}"
    assert basis["total_market_value_usd"] == f"{btc_value + eth_value:f}"

    lots = await read(client, f"{prefix}{BASE}/cost-basis/lots")
    btc_lot, eth_lot = lots["lots"]
    assert (btc_lot["lot_id"], btc_lot["quantity"], btc_lot["remaining_quantity"]) == ("lot-btc-buy", "0.50000000", "0.40000000")
    assert (btc_lot["unit_cost_usd"], btc_lot["cost_basis_usd"], btc_lot["source"]) == ("30030.00000000", "12012.00", "scenario")
    assert (eth_lot["exchange"], eth_lot["remaining_quantity"], eth_lot["cost_basis_usd"]) == ("binanceus", "2.00000000", f"{eth_cost:f}")
    assert lots["count"] == 2 and lots["total_cost_basis_usd"] == basis["total_cost_basis_usd"]

    aggregate = await read(client, f"{prefix}{BASE}/aggregate")
    assert aggregate["total_value_usd"] == f"{btc_value + eth_value:f}" and aggregate["asset_count"] == 2
    assert sum(row["allocation"] for row in aggregate["assets"]) == pytest.approx(1)
    history = await read(client, f"{prefix}{BASE}/value-history", days="30")
    assert history["end_value_usd"] == aggregate["total_value_usd"] and len(history["points"]) == 31
    month_ago = NOW - timedelta(days=30)
    assert history["start_value_usd"] == f"{cents(Decimal('0.4') * market('BTC', month_ago)) + cents(2 * market('ETH', month_ago)):f}"
    performance = await read(client, f"{prefix}{BASE}/history/performance", timeframe="1M")
    assert (performance["starting_value"], performance["ending_value"]) == (history["start_value_usd"], history["end_value_usd"])


async def test_an_entry_later_than_the_clock_counts_once_the_clock_passes_it(client: TestClient) -> None:
    prefix = await frozen_session(client, "later")
    later = {"at": "2026-01-16T00:00:00Z", "kind": "receive", "asset": "SOL", "quantity": "3", "price_usd": "100", "exchange": "kraken"}
    await install(client, prefix, {"bitcain": {"users": [{"user_id": SANDBOX_USER, "ledger": [later]}]}})
    assert (await read(client, f"{prefix}{BASE}/aggregate"))["assets"] == []
    await client.post(f"{prefix}/__mock/clock/advance", json={"days": 1}, headers=JSON)
    (sol,) = (await read(client, f"{prefix}{BASE}/balances", exchange="kraken"))["balances"]
    assert (sol["total"], sol["value_usd"]) == ("3.00000000", f"{cents(3 * market('SOL', NOW + timedelta(days=1))):f}")


async def test_a_shaped_portfolio_is_the_one_the_api_creates_at_that_instant(client: TestClient) -> None:
    shaped, created = await frozen_session(client, "shaped"), await frozen_session(client, "created")
    assert (await install(client, shaped, SHAPED))[0] == 201
    body = {name: value for name, value in CORE.items() if name != "created_at"}
    response = await client.post(f"{created}{BASE}/", params={"user_id": SANDBOX_USER}, json=body, headers=AUTH)
    assert response.status == 201
    made = await response.json()
    (mine,) = await read(client, f"{shaped}{BASE}/", user_id=SANDBOX_USER)  # the seeded portfolios are replaced
    same = {"status", "last_rebalanced_at", "portfolio_id"}  # a created one is "created", unrebalanced, of its own id
    assert {k: v for k, v in mine.items() if k not in same} == {k: v for k, v in made.items() if k not in same}
    assert mine["status"] == "active" and mine["total_return"] == f"{Decimal(mine['total_value_usd']) - 10000:f}"

    for prefix in (shaped, created):
        await client.post(f"{prefix}/__mock/clock/advance", json={"days": 40}, headers=JSON)
    ids = {shaped: mine["portfolio_id"], created: made["portfolio_id"]}
    later = {prefix: await read(client, f"{prefix}{BASE}/{ids[prefix]}/analytics", user_id=SANDBOX_USER) for prefix in ids}
    assert {**later[shaped], "portfolio_id": None} == {**later[created], "portfolio_id": None}
    positions = later[shaped]["positions"]
    assert later[shaped]["total_value_usd"] == f"{sum(Decimal(p['value_usd']) for p in positions):f}"
    for position in positions:
        quantity = satoshis(Decimal("10000") * Decimal(str(CORE["target_allocations"][position["asset"]])) / market(position["asset"], NOW))
        assert Decimal(position["quantity"]) == quantity  # bought at created_at's prices
        assert position["value_usd"] == f"{cents(quantity * market(position['asset'], NOW + timedelta(days=40))):f}"
    series = {
        prefix: [p["total_value"] for p in await read(client, f"{prefix}{BASE}/history", timeframe="3M", portfolio_id=ids[prefix])]
        for prefix in ids
    }
    assert series[shaped] == series[created] and len(series[shaped]) == 41


async def test_a_shaped_portfolio_is_changed_and_deleted_like_any_other(client: TestClient) -> None:
    prefix = await frozen_session(client, "changed")
    await install(client, prefix, SHAPED)
    (core,) = await read(client, f"{prefix}{BASE}/", user_id=SANDBOX_USER)
    path = f"{prefix}{BASE}/{core['portfolio_id']}"
    response = await client.put(path, params={"user_id": SANDBOX_USER}, json={"target_allocations": {"BTC": 1.0}}, headers=AUTH)
    rebalanced = await response.json()
    assert response.status == 200 and rebalanced["current_allocations"] == {"BTC": 1.0}
    bitcoin = satoshis(Decimal(core["total_value_usd"]) / market("BTC", NOW))  # all of it sold and bought again at today's prices
    assert rebalanced["total_value_usd"] == f"{cents(bitcoin * market('BTC', NOW)):f}"
    assert rebalanced["last_rebalanced_at"] == "2026-01-15T15:00:00Z"
    assert (await client.delete(path, params={"user_id": SANDBOX_USER}, headers=AUTH)).status == 409  # it holds assets
    assert (await client.delete(path, params={"user_id": SANDBOX_USER, "force": "true"}, headers=AUTH)).status == 204


async def test_a_users_ledger_is_seen_through_each_token_acting_as_that_user(make_client: MakeClient) -> None:
    credentials = {"bitcain": [{"HTTPBearer": "token-b", "user_id": "user-b"}, {"HTTPBearer": "token-c", "name": "c"}]}
    client = await make_client(specs=[ROOT / "specs"], credentials=credentials)
    entry = {"at": "2025-01-01T00:00:00Z", "kind": "buy", "asset": "ADA", "quantity": "100", "price_usd": "1", "exchange": "kraken"}
    assert (await install(client, "", {"bitcain": {"users": [{"user_id": "user-b", "ledger": [entry]}]}}))[0] == 201  # the default session
    b = await read(client, f"{BASE}/aggregate", headers={"Authorization": "Bearer token-b"})
    c = await read(client, f"{BASE}/aggregate", headers={"Authorization": "Bearer token-c"})
    assert [(row["asset"], row["quantity"]) for row in b["assets"]] == [("ADA", "100.00000000")]
    assert c["assets"] and c["user_id"] != "user-b"  # a user the scenario does not name keeps the seeded ledger


async def test_an_empty_ledger_holds_nothing_and_a_user_left_out_keeps_the_seeded_one(client: TestClient) -> None:
    prefix = await frozen_session(client, "empty")
    seeded = await read(client, f"{prefix}{BASE}/aggregate")
    await install(client, prefix, {"bitcain": {"users": [{"user_id": "someone-else", "ledger": []}]}})
    assert await read(client, f"{prefix}{BASE}/aggregate") == seeded
    await install(client, prefix, {"bitcain": {"users": [{"user_id": SANDBOX_USER, "ledger": []}]}})
    assert (await read(client, f"{prefix}{BASE}/aggregate"))["total_value_usd"] == "0.00"
    assert len(await read(client, f"{prefix}{BASE}/", user_id=SANDBOX_USER, active_only="false")) == 2  # its portfolios are untouched


async def test_a_refused_scenario_lists_every_problem_and_installs_nothing(client: TestClient) -> None:
    prefix = await frozen_session(client, "refused")
    bad_entry = {"at": "yesterday", "kind": "gift", "asset": "XRP", "quantity": "-1", "price_usd": "1.123456789", "exchange": "ftx", "x": 1}
    sold_first = [
        {"at": "2024-01-01T00:00:00Z", "kind": "sell", "asset": "BTC", "quantity": "1", "exchange": "coinbase"},
        {"at": "2024-02-01T00:00:00Z", "kind": "buy", "asset": "BTC", "quantity": "1", "exchange": "coinbase", "id": "twice"},
        {"at": "2024-03-01T00:00:00Z", "kind": "buy", "asset": "BTC", "quantity": "1", "exchange": "coinbase", "id": "twice"},
    ]
    portfolio = {"name": "", "target_allocations": {"BTC": 0.5, "XRP": 0.5}, "risk_tolerance": "yolo", "initial_value_usd": "-5"}
    pair = [{**CORE, "is_default": True}, {**CORE, "name": "core", "target_allocations": {"BTC": 0.7}}]
    scenario = {
        "bitcain": {
            "users": [
                {"user_id": "a", "ledger": [bad_entry], "portfolios": [portfolio]},
                {"user_id": "b", "ledger": sold_first[:1]},
                {"user_id": "c", "ledger": sold_first[1:], "portfolios": pair},
                {"user_id": "a", "wallet": {}},
            ]
        }
    }
    status, body = await install(client, prefix, scenario)
    names = [violation["name"] for violation in body["violations"]]
    assert status == 422 and body["detail"] == f"the scenario was not installed: {len(names)} problems"
    assert names == [
        "bitcain.users[0].ledger[0].x",
        "bitcain.users[0].ledger[0].at",
        "bitcain.users[0].ledger[0].kind",
        "bitcain.users[0].ledger[0].asset",
        "bitcain.users[0].ledger[0].exchange",
        "bitcain.users[0].ledger[0].quantity",
        "bitcain.users[0].ledger[0].price_usd",
        "bitcain.users[0].portfolios[0].name",
        "bitcain.users[0].portfolios[0].target_allocations",
        "bitcain.users[0].portfolios[0].risk_tolerance",
        "bitcain.users[0].portfolios[0].initial_value_usd",
        "bitcain.users[0].portfolios[0].created_at",
        "bitcain.users[1].ledger[0]",
        "bitcain.users[2].ledger[1].id",
        "bitcain.users[2].portfolios[1].target_allocations",
        "bitcain.users[2].portfolios",
        "bitcain.users[3].wallet",
        "bitcain.users[3].user_id",
    ]
    messages = {violation["name"]: violation["message"] for violation in body["violations"]}
    assert "which holds 0 then" in messages["bitcain.users[1].ledger[0]"]
    assert "unknown asset 'XRP'" in messages["bitcain.users[0].portfolios[0].target_allocations"]
    assert "must sum to 1.0" in messages["bitcain.users[2].portfolios[1].target_allocations"]
    assert await (await client.get(f"{prefix}/__mock/scenarios")).json() == {}
    assert (
        len(await read(client, f"{prefix}{BASE}/", user_id=SANDBOX_USER, active_only="false")) == 2
    )  # the seeded portfolios are still there


async def test_export_gives_what_was_installed_and_importing_it_gives_the_same_world(client: TestClient) -> None:
    prefix = await frozen_session(client, "saved")
    await install(client, prefix, SHAPED)
    more = {"user_id": "bob", "portfolios": [{**CORE, "name": "Bob's", "portfolio_id": "0b0b0b0b-0000-4000-8000-000000000000"}]}
    await install(client, prefix, {"bitcain": {"users": [more]}})
    await install(client, prefix, {"bitcain": {"users": [{"user_id": SANDBOX_USER, "portfolios": []}]}})  # replaces that member
    saved = await (await client.get(f"{prefix}/__mock/scenarios")).json()
    expected = [{"user_id": SANDBOX_USER, "ledger": LEDGER, "portfolios": []}, more]
    assert saved == {"bitcain": {"users": expected}}
    copy = await frozen_session(client, "copy")
    assert (await install(client, copy, saved))[0] == 201
    for path, query in ((f"{BASE}/cost-basis/lots", {}), (f"{BASE}/", {"user_id": "bob"}), (f"{BASE}/", {"user_id": SANDBOX_USER})):
        assert await read(client, f"{copy}{path}", **query) == await read(client, f"{prefix}{path}", **query)


async def test_a_sessions_scenario_stays_in_that_session(client: TestClient) -> None:
    mine, other = await frozen_session(client, "mine"), await frozen_session(client, "other")
    await install(client, mine, SHAPED)
    shaped = await read(client, f"{mine}{BASE}/aggregate")
    for prefix in (other, ""):
        assert (await read(client, f"{prefix}{BASE}/aggregate"))["assets"] != shaped["assets"]
        assert len(await read(client, f"{prefix}{BASE}/", user_id=SANDBOX_USER, active_only="false")) == 2
        assert await (await client.get(f"{prefix}/__mock/scenarios")).json() == {}


async def test_a_saved_world_is_the_default_sessions_at_start_up_and_after_a_reset(make_client: MakeClient, tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(SHAPED))
    client = await make_client(specs=[ROOT / "specs"], scenario=str(path))
    for _ in range(2):
        (core,) = await read(client, f"{BASE}/", user_id=SANDBOX_USER, active_only="false")
        assert core["name"] == "Core"
        assert (await read(client, f"{BASE}/cost-basis/lots"))["lots"][0]["lot_id"] == "lot-btc-buy"
        await client.post("/__mock/reset", json={})
