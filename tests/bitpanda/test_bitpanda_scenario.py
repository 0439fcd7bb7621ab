"""Bitpanda keys shaped by a scenario over HTTP: balances, series, totals and `in(currency:)` that
follow the movements given, on the sandbox clock; every problem of a refused scenario; export and
import; a key's shape in one session only, never answered from another's kept answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockserver.sandbox.market import round_price
from mockserver.vendors.bitpanda import holdings as custody

from ..helpers import JSON, ROOT, MakeClient, install, price_usd, session_of
from .helpers import CONFIGURED, KEY, MARKET, URL

MOVEMENTS = [
    {"asset": "BTC", "type": "deposit", "at": "2024-01-15T10:20:00Z", "amount": "0.5"},
    {"asset": "ETH", "type": "deposit", "at": "2024-01-15T12:00:00Z", "amount": 3},
    {"asset": "USDC", "type": "deposit", "at": "2024-01-16T00:00:00+01:00", "amount": "1000.25"},
    {"asset": "BTC", "type": "withdrawal", "at": "2024-01-16T09:59:59Z", "amount": "0.2"},
    {"asset": "USDC", "type": "withdrawal", "at": "2024-01-16T11:00:00Z", "amount": "1000.25"},
]
SHAPED = {"bitpanda": {"keys": [{"key": KEY, "movements": MOVEMENTS}]}}
FIELDS = (
    'timestamp total { value currency in(currency: "USD") { value timestamp } } '
    'balances { items { asset { symbol } amount { value currency in(currency: "USD") { value timestamp } } } }'
)
DAY_SERIES = '(startDate: "2024-01-15T09:00:00Z", endDate: "2024-01-16T12:00:00Z", timePeriod: HOURLY)'


async def query(client: TestClient, prefix: str, arguments: str = "", key: str = KEY, fields: str = FIELDS) -> tuple[int, Any]:
    document = f"{{ user {{ portfolio{arguments} {{ items {{ {fields} }} }} }} }}"
    response = await client.post(f"{prefix}{URL}", json={"query": document}, headers={"x-api-key": key})
    return response.status, await response.json()


async def points(client: TestClient, prefix: str, arguments: str = "", key: str = KEY) -> list[dict[str, Any]]:
    status, body = await query(client, prefix, arguments, key)
    assert status == 200 and "errors" not in body, body
    return body["data"]["user"]["portfolio"]["items"]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def held_at(movements: list[dict[str, Any]], when: datetime) -> dict[str, Decimal]:
    """What the movements up to an instant add up to, per asset (none held: left out)."""
    held: dict[str, Decimal] = {}
    for movement in movements:
        if instant(movement["at"]) <= when:
            sign = 1 if movement["type"] == "deposit" else -1
            held[movement["asset"]] = held.get(movement["asset"], Decimal(0)) + sign * Decimal(str(movement["amount"]))
    return {symbol: amount for symbol, amount in held.items() if amount}


def quote(symbol: str, currency: str, at: datetime) -> Decimal:
    """An asset's price in a currency at a rate time, from the shared price history."""
    return Decimal(repr(round_price(price_usd(symbol, at) / custody.fx_usd(MARKET, currency, at))))


def assert_point_follows(point: dict[str, Any], movements: list[dict[str, Any]]) -> None:
    """A point's balances are what the movements add up to at its timestamp, in asset order; its
    total and every `in(currency: "USD")` are those balances times the shared prices, exactly."""
    hour = instant(point["timestamp"])
    expected = held_at(movements, hour)
    items = point["balances"]["items"]
    order = [asset.symbol for asset in custody.CUSTODY_ASSETS]
    assert [item["asset"]["symbol"] for item in items] == sorted(expected, key=order.index)
    rated = custody.rate_instant(int((hour - custody.EPOCH) / timedelta(hours=1)), 0)
    for item in items:
        symbol, amount = item["asset"]["symbol"], item["amount"]
        assert (Decimal(amount["value"]), amount["currency"]) == (expected[symbol], symbol)
        assert instant(amount["in"]["timestamp"]) == rated
        assert Decimal(amount["in"]["value"]) == expected[symbol] * quote(symbol, "USD", rated)
    assert point["total"]["currency"] == "GBP"
    assert Decimal(point["total"]["value"]) == sum((amount * quote(s, "GBP", rated) for s, amount in expected.items()), Decimal(0))
    assert Decimal(point["total"]["in"]["value"]) == sum(Decimal(item["amount"]["in"]["value"]) for item in items)


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    return await make_client(specs=[ROOT / "specs"])


async def test_every_point_of_a_series_follows_the_movements(client: TestClient) -> None:
    prefix = await session_of(client, "series")
    assert await install(client, prefix, SHAPED) == (201, {"installed": ["bitpanda"]})
    series = await points(client, prefix, DAY_SERIES)
    assert [point["timestamp"] for point in series][::9] == [
        "2024-01-16T12:00:00.000Z",
        "2024-01-16T03:00:00.000Z",
        "2024-01-15T18:00:00.000Z",
        "2024-01-15T09:00:00.000Z",
    ]
    for point in series:
        assert_point_follows(point, MOVEMENTS)
    by_hour = {point["timestamp"][11:16]: point for point in series if point["timestamp"].startswith("2024-01-15")}
    assert by_hour["10:00"]["balances"]["items"] == [] and by_hour["10:00"]["total"]["value"] == "0"
    assert [item["amount"]["value"] for item in by_hour["11:00"]["balances"]["items"]] == ["0.5"]  # 10:20 counts from 11:00
    assert [item["amount"]["value"] for item in by_hour["23:00"]["balances"]["items"]] == ["3", "0.5", "1000.25"]
    assert [item["amount"]["value"] for item in series[0]["balances"]["items"]] == ["3", "0.3"]  # USDC all withdrawn


async def test_the_latest_point_and_a_single_date_follow_them_too(client: TestClient) -> None:
    prefix = await session_of(client, "latest")
    await install(client, prefix, SHAPED)
    (latest,) = await points(client, prefix)
    assert latest["timestamp"] == "2026-01-15T15:00:00.000Z"
    assert_point_follows(latest, MOVEMENTS)
    (at_date,) = await points(client, prefix, '(endDate: "2024-01-16T10:10:00Z")')
    assert at_date["timestamp"] == "2024-01-16T10:00:00.000Z"
    assert [item["amount"]["value"] for item in at_date["balances"]["items"]] == ["3", "0.3", "1000.25"]


async def test_a_movement_after_now_shows_once_the_clock_passes_it(client: TestClient) -> None:
    prefix = await session_of(client, "clock")
    later = [{"asset": "SOL", "type": "deposit", "at": "2026-01-15T18:30:00Z", "amount": "12.5"}]
    await install(client, prefix, {"bitpanda": {"keys": [{"key": KEY, "movements": later}]}})
    (now,) = await points(client, prefix)
    assert now["balances"]["items"] == [] and now["total"]["value"] == "0"
    response = await client.post(f"{prefix}/__mock/clock/advance", json={"hours": 4}, headers=JSON)
    assert response.status == 200
    (moved,) = await points(client, prefix)
    assert moved["timestamp"] == "2026-01-15T19:00:00.000Z"
    assert [item["amount"]["value"] for item in moved["balances"]["items"]] == ["12.5"]
    assert_point_follows(moved, later)


async def test_a_shape_is_the_sessions_alone_and_never_answered_from_anothers(client: TestClient) -> None:
    prefix, other = await session_of(client, "mine"), await session_of(client, "other")
    generated = await points(client, "", DAY_SERIES)  # kept by the engine before any scenario
    await install(client, prefix, SHAPED)
    shaped = await points(client, prefix, DAY_SERIES)
    assert shaped != generated
    assert await points(client, other, DAY_SERIES) == generated  # same clock, same query: not the shaped answer
    assert await points(client, "", DAY_SERIES) == generated
    assert await (await client.get(f"{other}/__mock/scenarios")).json() == {}
    again = [{"asset": "BTC", "type": "deposit", "at": "2020-01-01T00:00:00Z", "amount": "2"}]
    await install(client, prefix, {"bitpanda": {"keys": [{"key": KEY, "movements": again}]}})  # replaces the key's movements
    for point in await points(client, prefix, DAY_SERIES):
        assert [item["amount"]["value"] for item in point["balances"]["items"]] == ["2"]


async def test_a_key_only_the_scenario_names_is_a_user_where_it_is_installed(client: TestClient) -> None:
    prefix, other = await session_of(client, "new-key"), await session_of(client, "without")
    await install(client, prefix, {"bitpanda": {"keys": [{"key": "key-carol", "movements": MOVEMENTS}]}})
    (latest,) = await points(client, prefix, key="key-carol")
    assert_point_follows(latest, MOVEMENTS)
    for elsewhere in (other, ""):
        status, body = await query(client, elsewhere, key="key-carol")
        assert status == 401 and body["errors"][0]["errorType"] == "UnauthorizedException"
    assert await points(client, prefix) == await points(client, other)  # the sandbox key keeps its generated data


async def test_configured_keys_keep_their_flags_and_unnamed_ones_their_data(make_client: MakeClient) -> None:
    client = await make_client(specs=[ROOT / "specs"], credentials=CONFIGURED)
    alice = await points(client, "", key="key-alice")
    keys = [{"key": "key-bob", "movements": MOVEMENTS}, {"key": "key-locked", "movements": MOVEMENTS}]
    assert (await install(client, "", {"bitpanda": {"keys": keys}}))[0] == 201  # the default session
    (bob,) = await points(client, "", key="key-bob")
    assert_point_follows(bob, MOVEMENTS)
    assert await points(client, "", key="key-alice") == alice
    status, locked = await query(client, "", key="key-locked")
    assert status == 200 and locked["data"] == {"user": None} and locked["errors"][0]["errorType"] == "Unauthorized"


async def test_export_gives_back_what_was_installed_and_loads_the_same_world(client: TestClient) -> None:
    prefix, copy = await session_of(client, "saved"), await session_of(client, "loaded")
    scenario = {"bitpanda": {"keys": [{"key": KEY, "movements": MOVEMENTS}, {"key": "key-dave", "movements": []}]}}
    await install(client, prefix, scenario)
    exported = await (await client.get(f"{prefix}/__mock/scenarios")).json()
    assert exported == scenario
    assert (await install(client, copy, exported))[0] == 201
    assert await points(client, copy, DAY_SERIES) == await points(client, prefix, DAY_SERIES)
    (empty,) = await points(client, copy, key="key-dave")
    assert empty["balances"]["items"] == [] and empty["total"]["value"] == "0"


async def test_a_refused_scenario_lists_every_problem_and_installs_nothing(client: TestClient) -> None:
    prefix = await session_of(client, "refused")
    keys = [
        {
            "key": KEY,
            "movements": [
                {"asset": "BTC", "type": "deposit", "at": "2024-01-01T00:00:00Z", "amount": "0.5"},
                {"asset": "BTC", "type": "withdrawal", "at": "2024-01-02T00:00:00Z", "amount": "0.6"},
                {"asset": "XRP", "type": "buy", "at": "yesterday", "amount": -1, "fee": 1},
                {"asset": "BTC", "type": "deposit", "at": "1999-12-31T23:00:00Z", "amount": "0.123456789"},
            ],
        },
        {"key": KEY, "movements": []},
        {"key": "a key", "movements": "none"},
        "key-erin",
    ]
    status, body = await install(client, prefix, {"bitpanda": {"keys": keys}})
    assert status == 422 and body["detail"] == "the scenario was not installed: 12 problems"
    assert [violation["name"] for violation in body["violations"]] == [
        "bitpanda.keys[0].movements[2].fee",
        "bitpanda.keys[0].movements[2].asset",
        "bitpanda.keys[0].movements[2].type",
        "bitpanda.keys[0].movements[2].at",
        "bitpanda.keys[0].movements[2].amount",
        "bitpanda.keys[0].movements[3].at",
        "bitpanda.keys[0].movements[3].amount",
        "bitpanda.keys[0].movements[1].amount",
        "bitpanda.keys[1].key",
        "bitpanda.keys[2].key",
        "bitpanda.keys[2].movements",
        "bitpanda.keys[3]",
    ]
    messages = [violation["message"] for violation in body["violations"]]
    assert "bitpanda.keys[0].movements[1].amount: withdraws 0.6 BTC when the key holds 0.5 BTC then" in messages
    assert "at most 8 decimals (BTC's)" in messages[6]
    assert await (await client.get(f"{prefix}/__mock/scenarios")).json() == {}
    assert await points(client, prefix) == await points(client, "")


@pytest.mark.parametrize("payload", [[], {"keys": {}}, {"keys": [], "more": 1}, {"keys": [{"key": KEY, "movements": [{}] * 1001}]}])
async def test_a_payload_out_of_shape_or_bounds_is_refused(client: TestClient, payload: Any) -> None:
    status, body = await install(client, "", {"bitpanda": payload})
    assert status == 422 and len(body["violations"]) == 1
