"""Bitpanda Custody user portfolio (GraphQL, AppSync style): the document's four queries, its
rules and edge cases, AppSync authentication and errors, numbers that add up, a real client."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.aiohttp import AIOHTTPTransport
from graphql import build_schema

import mockserver.graphql
from mockserver.app import create_app, load
from mockserver.errors import LoadError
from mockserver.sandbox.market import round_price
from mockserver.sandbox.world import World
from mockserver.settings import SettingsError, load_settings
from mockserver.traffic import TRAFFIC
from mockserver.vendors.bitpanda import holdings as custody

from ..helpers import ROOT, price_usd
from .helpers import AMOUNT, AUTH, CONFIGURED, KEY, LATEST_QUERY, MARKET, URL, items_of, run, timestamps

SDL = (ROOT / "specs" / "bitpanda.graphql").read_text()
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z")
RATE_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:(\d{2}):00\.000Z")
DECIMAL = re.compile(r"(0|[1-9]\d*)(\.\d*[1-9])?")

# --- the document's four queries (the first is LATEST_QUERY) and results (their "..." left out) ---

AT_DATE_QUERY = LATEST_QUERY.replace("portfolio {", 'portfolio(endDate: "2021-03-01T12:00:00.000Z") {')
SERIES_QUERY = LATEST_QUERY.replace(
    "portfolio {", 'portfolio(startDate: "2021-02-23T12:00:00.000Z", endDate: "2021-03-02T12:00:00.000Z", timePeriod: WEEKLY) {'
)
USD = 'in(currency: "USD") { currency value timestamp }'
CONVERTED_QUERY = f"""query UserPortfolioQuery {{
  user {{ portfolio {{ items {{ timestamp total {{ value timestamp currency {USD} }}
    balances {{ items {{ amount {{ value timestamp currency {USD} }} asset {{ name }} }} }} }} }} }}
}}"""


def _point(timestamp: str, total: str, eth: str, btc: str, usd: dict[str, str] | None = None) -> dict[str, Any]:
    def amount(currency: str, value: str, converted: str | None) -> dict[str, Any]:
        found: dict[str, Any] = {"currency": currency, "timestamp": timestamp, "value": value}
        if usd is not None:
            found["in"] = {"currency": "USD", "value": converted, "timestamp": usd["timestamp"]}
        return found

    total_amount = amount("GBP", total, usd["total"] if usd else None)
    items = [
        {"amount": amount("ETH", eth, usd["ETH"] if usd else None), "asset": {"name": "Ethereum"}},
        {"amount": amount("BTC", btc, usd["BTC"] if usd else None), "asset": {"name": "Bitcoin"}},
    ]
    return {"timestamp": timestamp, "total": total_amount, "balances": {"items": items}}


def _result(*points: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"user": {"portfolio": {"items": list(points)}}}}


DOCUMENT_EXAMPLES = {
    "latest": (LATEST_QUERY, _result(_point("2021-03-02T16:00:00.000Z", "9131.364413355", "0.519577995", "0.24864699"))),
    "at a date": (AT_DATE_QUERY, _result(_point("2021-03-01T12:00:00.000Z", "9131.364413355", "0.519577995", "0.24864699"))),
    "series": (
        SERIES_QUERY,
        _result(
            _point("2021-03-02T12:00:00.000Z", "2284557.6364358384", "0.519577995", "0.24864699"),
            _point("2021-02-23T12:00:00.000Z", "2069491.9749807473", "0.519577995", "0.19737407"),
        ),
    ),
    "converted": (
        CONVERTED_QUERY,
        _result(
            _point(
                "2021-03-02T16:00:00.000Z",
                "9131.364413355",
                "0.519577995",
                "0.24864699",
                {"timestamp": "2021-03-02T16:12:00.000Z", "total": "12692.5965345635", "ETH": "926.25531981892", "BTC": "13965.31"},
            )
        ),
    ),
}


def same_shape(found: Any, expected: Any) -> bool:
    """The same keys at every level (JSON objects have no order) and lists whose items look like
    the document's (the document's "..." stands for more balances like the ones shown)."""
    if isinstance(expected, dict):
        return isinstance(found, dict) and set(found) == set(expected) and all(same_shape(found[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(found, list) and all(same_shape(item, expected[min(i, len(expected) - 1)]) for i, item in enumerate(found))
    return isinstance(found, type(expected))


def rate_minute(timestamp: str) -> int:
    match = RATE_TIMESTAMP.fullmatch(timestamp)
    assert match, timestamp
    return int(match.group(1))


async def field_error(client: Any, arguments: str) -> dict[str, Any]:
    payload = await run(client, f"{{ user {{ portfolio{arguments} {{ items {{ timestamp }} }} }} }}")
    assert payload["data"] == {"user": {"portfolio": None}}
    [error] = payload["errors"]
    assert error["path"] == ["user", "portfolio"]
    assert error["errorType"] == "BadRequestException"
    assert error["locations"] == [{"line": 1, "column": 10, "sourceName": None}]
    assert set(error) == {"path", "data", "errorType", "errorInfo", "locations", "message"}
    return error


# --- the document's examples --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DOCUMENT_EXAMPLES))
async def test_document_example_has_the_documents_shape(at_document_time: Any, name: str) -> None:
    query, expected = DOCUMENT_EXAMPLES[name]
    found = await run(at_document_time, query)
    assert same_shape(found, expected), found
    points = found["data"]["user"]["portfolio"]["items"]
    models = expected["data"]["user"]["portfolio"]["items"]
    assert [point["timestamp"] for point in points] == [model["timestamp"] for model in models]
    for point, model in zip(points, models, strict=True):
        assert TIMESTAMP.fullmatch(point["timestamp"])
        total, balances = point["total"], point["balances"]["items"]
        assert total["currency"] == "GBP" and total["timestamp"] == point["timestamp"] and DECIMAL.fullmatch(total["value"])
        assert [(item["asset"]["name"], item["amount"]["currency"]) for item in balances][:2] == [("Ethereum", "ETH"), ("Bitcoin", "BTC")]
        for item in balances:
            assert item["amount"]["timestamp"] == point["timestamp"] and DECIMAL.fullmatch(item["amount"]["value"])
        if "in" in model["total"]:
            for amount in [total, *(item["amount"] for item in balances)]:
                converted = amount["in"]
                assert converted["currency"] == "USD" and DECIMAL.fullmatch(converted["value"])
                assert converted["timestamp"][:14] == point["timestamp"][:14] and 1 <= rate_minute(converted["timestamp"]) <= 15


async def test_document_queries_work_at_the_default_clock_too(client: Any) -> None:
    for query, _ in DOCUMENT_EXAMPLES.values():
        payload = await run(client, query)
        assert "errors" not in payload
    latest = await run(client, LATEST_QUERY)
    assert latest["data"]["user"]["portfolio"]["items"][0]["timestamp"] == "2026-01-15T15:00:00.000Z"


async def test_conversion_timestamp_is_minutes_after_the_balance_hour(at_document_time: Any) -> None:
    payload = await run(at_document_time, CONVERTED_QUERY)
    [point] = payload["data"]["user"]["portfolio"]["items"]
    stamps = {point["total"]["in"]["timestamp"]} | {item["amount"]["in"]["timestamp"] for item in point["balances"]["items"]}
    [stamp] = stamps  # one rate time for the whole hour
    assert stamp.startswith("2021-03-02T16:") and 1 <= rate_minute(stamp) <= 15
    assert point["total"]["timestamp"] == point["timestamp"] == "2021-03-02T16:00:00.000Z"


# --- authentication -----------------------------------------------------------------------------


async def test_missing_key_is_appsync_401(client: Any) -> None:
    response = await client.post(URL, json={"query": LATEST_QUERY})
    assert response.status == 401
    assert await response.json() == {
        "errors": [{"errorType": "UnauthorizedException", "message": "Valid authorization header not provided."}]
    }


async def test_empty_key_is_missing(client: Any) -> None:
    response = await client.post(URL, json={"query": LATEST_QUERY}, headers={"x-api-key": " "})
    assert response.status == 401
    assert (await response.json())["errors"][0]["message"] == "Valid authorization header not provided."


async def test_unknown_key_is_appsync_401_without_echoing_it(client: Any) -> None:
    response = await client.post(URL, json={"query": LATEST_QUERY}, headers={"x-api-key": "da2-not-a-real-key"})
    assert response.status == 401
    assert await response.json() == {
        "errors": [{"errorType": "UnauthorizedException", "message": "You are not authorized to make this call."}]
    }
    assert "da2-not-a-real-key" not in await response.text()


async def test_header_name_is_case_insensitive(client: Any) -> None:
    assert await items_of(client, headers={"X-API-KEY": KEY})


async def test_authentication_comes_before_everything_else(client: Any) -> None:
    response = await client.post(URL, data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 401
    response = await client.get(URL, params={"query": "mutation { x }"})
    assert response.status == 401


async def test_introspection_needs_the_key_too(client: Any) -> None:
    response = await client.post(URL, json={"query": "{ __schema { queryType { name } } }"})
    assert response.status == 401


async def test_configured_keys_are_users_of_their_own(make_client: Any) -> None:
    client = await make_client(specs=[ROOT / "specs"], credentials=CONFIGURED)
    alice = await items_of(client, fields=f"balances {{ items {{ {AMOUNT} }} }}", headers={"x-api-key": "key-alice"})
    bob = await items_of(client, fields=f"balances {{ items {{ {AMOUNT} }} }}", headers={"x-api-key": "key-bob"})
    assert alice != bob
    response = await client.post(URL, json={"query": LATEST_QUERY}, headers=AUTH)  # the sandbox key is replaced
    assert response.status == 401


async def test_a_key_is_the_same_user_in_any_configuration(make_client: Any) -> None:
    alone = await make_client(specs=[ROOT / "specs"], credentials={"bitpanda": [{"x-api-key": "key-bob"}]})
    among = await make_client(specs=[ROOT / "specs"], credentials=CONFIGURED)
    headers = {"x-api-key": "key-bob"}
    assert await run(alone, CONVERTED_QUERY, headers=headers) == await run(among, CONVERTED_QUERY, headers=headers)


async def test_forbidden_key_gets_appsync_unauthorized_field_error(make_client: Any) -> None:
    client = await make_client(specs=[ROOT / "specs"], credentials=CONFIGURED)
    payload = await run(client, LATEST_QUERY, headers={"x-api-key": "key-locked"})
    assert payload["data"] == {"user": None}
    [error] = payload["errors"]
    assert error["errorType"] == "Unauthorized"
    assert error["message"] == "Not Authorized to access user on type Query"
    assert error["path"] == ["user"]


def test_banner_shows_the_sandbox_key_and_hides_configured_ones() -> None:
    [api] = [api for api in load(load_settings({}, environ={}))[0] if api.name == "bitpanda"]
    assert api.credential_hints() == ["x-api-key: mock-api-key"]
    [api] = [api for api in load(load_settings({"credentials": CONFIGURED}, environ={}))[0] if api.name == "bitpanda"]
    hints = api.credential_hints()
    assert hints[:2] == ["x-api-key: <configured>", "x-api-key: <configured>"]
    assert "forbidden" in hints[2]
    assert not any("key-alice" in hint for hint in hints)


@pytest.mark.parametrize("entry", [{"name": "no key"}, {"x-api-key": ""}, {"x-api-key": 7}, {"x-api-key": "  "}])
def test_configured_entry_without_a_key_stops_start_up(entry: Any) -> None:
    with pytest.raises(LoadError, match="x-api-key"):
        load(load_settings({"credentials": {"bitpanda": [entry]}}, environ={}))


# --- dates, periods and the data window ---------------------------------------------------------


async def test_no_arguments_is_the_latest_hour(client: Any) -> None:
    assert await timestamps(client) == ["2026-01-15T15:00:00.000Z"]


@pytest.mark.parametrize(
    ("clock", "latest"),
    [
        ("2026-01-15T15:29:59.999Z", "2026-01-15T15:00:00.000Z"),
        ("2026-01-15T15:30:00Z", "2026-01-15T16:00:00.000Z"),
        ("2026-01-15T14:45:00Z", "2026-01-15T15:00:00.000Z"),
    ],
)
async def test_latest_is_the_clock_at_the_nearest_hour(make_client: Any, clock: str, latest: str) -> None:
    client = await make_client(specs=[ROOT / "specs"], clock=clock)
    assert await timestamps(client) == [latest]
    assert await timestamps(client, f'(endDate: "{clock}")') == [latest]  # no arguments is endDate = now


@pytest.mark.parametrize(
    ("end", "hour"),
    [
        ("2021-03-01T12:00:00.000Z", "2021-03-01T12:00:00.000Z"),
        ("2021-03-01T12:29:59.999Z", "2021-03-01T12:00:00.000Z"),
        ("2021-03-01T12:30:00.000Z", "2021-03-01T13:00:00.000Z"),
        ("2021-03-01T11:30:00Z", "2021-03-01T12:00:00.000Z"),
        ("2021-03-01T12:10:00.123456789Z", "2021-03-01T12:00:00.000Z"),
        ("2021-03-01T13:00:00+01:00", "2021-03-01T12:00:00.000Z"),
        ("2021-03-01T07:00:00-0500", "2021-03-01T12:00:00.000Z"),
        ("2021-03-01T12:00:00", "2021-03-01T12:00:00.000Z"),
        ("2021-03-01T12:00Z", "2021-03-01T12:00:00.000Z"),
        ("2021-03-01", "2021-03-01T00:00:00.000Z"),
        ("2021-02-28T23:45:00Z", "2021-03-01T00:00:00.000Z"),
    ],
)
async def test_end_date_alone_is_the_balance_at_the_nearest_hour(client: Any, end: str, hour: str) -> None:
    assert await timestamps(client, f'(endDate: "{end}")') == [hour]


@pytest.mark.parametrize(
    ("end", "found"),
    [
        ("2021-02-16T00:00:00.000Z", ["2021-02-16T00:00:00.000Z"]),  # the first hour with data
        ("2021-02-15T23:30:00.000Z", ["2021-02-16T00:00:00.000Z"]),  # rounds into the window
        ("2021-02-15T23:29:59.999Z", []),  # rounds to the hour before: no data
        ("2020-06-01T00:00:00.000Z", []),
        ("2026-01-15T15:00:00.000Z", ["2026-01-15T15:00:00.000Z"]),  # the latest hour
        ("2026-01-15T16:00:00.000Z", []),  # after the latest hour: no data yet
    ],
)
async def test_data_window_edges(client: Any, end: str, found: list[str]) -> None:
    assert await timestamps(client, f'(endDate: "{end}")') == found


async def test_first_hour_has_eth_and_btc(client: Any) -> None:
    [point] = await items_of(client, '(endDate: "2021-02-16T00:00:00.000Z")', f"balances {{ items {{ {AMOUNT} }} }}")
    assert [item["amount"]["currency"] for item in point["balances"]["items"]][:2] == ["ETH", "BTC"]


async def test_series_keeps_only_hours_inside_the_window(client: Any) -> None:
    found = await timestamps(client, '(startDate: "2021-02-13T00:00:00Z", endDate: "2021-02-17T00:00:00Z", timePeriod: DAILY)')
    assert found == ["2021-02-17T00:00:00.000Z", "2021-02-16T00:00:00.000Z"]
    assert await timestamps(client, '(startDate: "2020-01-01T00:00:00Z", endDate: "2021-01-01T00:00:00Z", timePeriod: MONTHLY)') == []


async def test_series_ending_after_the_latest_hour_keeps_its_grid(client: Any) -> None:
    found = await timestamps(client, '(startDate: "2026-01-12T09:00:00Z", endDate: "2026-01-20T09:00:00Z", timePeriod: DAILY)')
    assert found == [f"2026-01-{day}T09:00:00.000Z" for day in (15, 14, 13, 12)]


@pytest.mark.parametrize(("period", "hours"), [("HOURLY", 1), ("DAILY", 24), ("WEEKLY", 168), ("MONTHLY", 720)])
async def test_series_steps_back_from_the_end_newest_first(client: Any, period: str, hours: int) -> None:
    end = datetime(2024, 6, 30, 12, tzinfo=UTC)
    start = end - timedelta(hours=hours * 4)
    found = await timestamps(client, f'(startDate: "{start.isoformat()}", endDate: "{end.isoformat()}", timePeriod: {period})')
    assert found == [(end - timedelta(hours=hours * k)).strftime("%Y-%m-%dT%H:00:00.000Z") for k in range(5)]


async def test_monthly_is_thirty_days(client: Any) -> None:
    found = await timestamps(client, '(startDate: "2024-01-01T00:00:00Z", endDate: "2024-03-31T00:00:00Z", timePeriod: MONTHLY)')
    assert found == ["2024-03-31T00:00:00.000Z", "2024-03-01T00:00:00.000Z", "2024-01-31T00:00:00.000Z", "2024-01-01T00:00:00.000Z"]


async def test_series_is_anchored_at_the_end_date(client: Any) -> None:
    found = await timestamps(client, '(startDate: "2021-02-23T12:00:00Z", endDate: "2021-03-05T12:00:00Z", timePeriod: WEEKLY)')
    assert found == ["2021-03-05T12:00:00.000Z", "2021-02-26T12:00:00.000Z"]


async def test_series_dates_are_rounded_too(client: Any) -> None:
    found = await timestamps(client, '(startDate: "2024-01-01T00:31:00Z", endDate: "2024-01-01T03:29:00Z", timePeriod: HOURLY)')
    assert found == ["2024-01-01T03:00:00.000Z", "2024-01-01T02:00:00.000Z", "2024-01-01T01:00:00.000Z"]


async def test_equal_start_and_end_is_one_balance(client: Any) -> None:
    found = await timestamps(client, '(startDate: "2024-01-01T00:00:00Z", endDate: "2024-01-01T00:00:00Z", timePeriod: MONTHLY)')
    assert found == ["2024-01-01T00:00:00.000Z"]


async def test_series_is_capped_at_the_200_newest_periods(client: Any) -> None:
    found = await timestamps(client, '(startDate: "2024-01-01T00:00:00Z", endDate: "2024-01-31T00:00:00Z", timePeriod: HOURLY)')
    assert len(found) == 200
    assert found[0] == "2024-01-31T00:00:00.000Z"
    assert found[-1] == (datetime(2024, 1, 31, tzinfo=UTC) - timedelta(hours=199)).strftime("%Y-%m-%dT%H:00:00.000Z")
    exactly = await timestamps(client, '(startDate: "2024-01-01T00:00:00Z", endDate: "2024-01-09T07:00:00Z", timePeriod: HOURLY)')
    assert len(exactly) == 200 and exactly[-1] == "2024-01-01T00:00:00.000Z"


async def test_start_date_without_end_date_ends_at_the_latest_hour(client: Any) -> None:
    found = await timestamps(client, '(startDate: "2026-01-13T15:00:00Z", timePeriod: DAILY)')
    assert found == ["2026-01-15T15:00:00.000Z", "2026-01-14T15:00:00.000Z", "2026-01-13T15:00:00.000Z"]


async def test_series_agrees_point_by_point_with_single_dates(client: Any) -> None:
    fields = f"timestamp total {{ value currency timestamp {USD} }} balances {{ items {{ asset {{ symbol }} {AMOUNT.replace('}', USD + ' }')} available {{ value }} }} }}"
    series = await items_of(client, '(startDate: "2022-01-01T00:00:00Z", endDate: "2024-06-01T00:00:00Z", timePeriod: MONTHLY)', fields)
    assert len(series) == 30
    for point in series[::7]:
        [single] = await items_of(client, f'(endDate: "{point["timestamp"]}")', fields)
        assert single == point


# --- argument errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ('(endDate: "yesterday")', ["endDate 'yesterday'", "ISO 8601"]),
        ('(endDate: "")', ["endDate ''", "ISO 8601"]),
        ('(endDate: "2021-02-30T00:00:00Z")', ["endDate", "ISO 8601"]),
        ('(endDate: "2021-03-01T25:00:00Z")', ["endDate", "ISO 8601"]),
        ('(endDate: "2021-03-01T12:00:00+25:00")', ["endDate", "ISO 8601"]),
        ('(endDate: "1614600000")', ["endDate '1614600000'"]),
        ('(startDate: "03/01/2021", endDate: "2021-03-02T00:00:00Z", timePeriod: DAILY)', ["startDate '03/01/2021'"]),
        (
            '(startDate: "2021-03-02T00:00:00Z", endDate: "2021-03-01T00:00:00Z", timePeriod: DAILY)',
            ["endDate 2021-03-01T00:00:00.000Z is before startDate 2021-03-02T00:00:00.000Z"],
        ),
        ('(startDate: "2021-03-01T00:00:00Z", endDate: "2021-03-02T00:00:00Z")', ["timePeriod is required"]),
        ('(startDate: "2021-03-01T00:00:00Z")', ["timePeriod is required"]),
        ('(endDate: "2021-03-02T00:00:00Z", timePeriod: DAILY)', ["timePeriod needs startDate"]),
        ("(timePeriod: DAILY)", ["timePeriod needs startDate"]),
        ('(startDate: "2027-01-01T00:00:00Z", timePeriod: DAILY)', ["after the latest available time 2026-01-15T15:00:00.000Z"]),
    ],
)
async def test_bad_arguments_are_field_errors_with_a_clear_message(client: Any, arguments: str, words: list[str]) -> None:
    error = await field_error(client, arguments)
    for word in words:
        assert word in error["message"]


async def test_every_argument_problem_is_reported(client: Any) -> None:
    error = await field_error(client, '(startDate: "soon", endDate: "later")')
    assert "startDate 'soon'" in error["message"] and "endDate 'later'" in error["message"] and "timePeriod is required" in error["message"]


async def test_a_long_bad_date_is_shortened_in_the_message(client: Any) -> None:
    error = await field_error(client, f'(endDate: "{"9" * 500}")')
    assert len(error["message"]) < 200


@pytest.mark.parametrize("arguments", ["(timePeriod: YEARLY)", "(endDate: 20210301)", '(timePeriod: "DAILY")', "(since: null)"])
async def test_arguments_of_the_wrong_type_are_400_validation_errors(client: Any, arguments: str) -> None:
    response = await client.post(URL, json={"query": f"{{ user {{ portfolio{arguments} {{ items {{ timestamp }} }} }} }}"}, headers=AUTH)
    body = await response.json()
    assert response.status == 400
    assert "data" not in body
    assert body["errors"][0]["errorType"] == "ValidationError"
    assert body["errors"][0]["locations"][0]["line"] == 1


async def test_arguments_as_variables(client: Any) -> None:
    query = "query Series($from: String, $to: String, $step: TimePeriod) { user { portfolio(startDate: $from, endDate: $to, timePeriod: $step) { items { timestamp } } } }"
    payload = await run(client, query, {"from": "2021-02-23T12:00:00.000Z", "to": "2021-03-02T12:00:00.000Z", "step": "WEEKLY"})
    assert [item["timestamp"] for item in payload["data"]["user"]["portfolio"]["items"]] == [
        "2021-03-02T12:00:00.000Z",
        "2021-02-23T12:00:00.000Z",
    ]
    response = await client.post(URL, json={"query": query, "variables": {"step": "FORTNIGHTLY"}}, headers=AUTH)
    body = await response.json()
    assert response.status == 400 and body["errors"][0]["errorType"] == "ValidationError" and "FORTNIGHTLY" in body["errors"][0]["message"]


async def test_too_many_balances_in_one_request_is_a_field_error(client: Any) -> None:
    series = '(startDate: "2024-01-01T00:00:00Z", endDate: "2024-02-01T00:00:00Z", timePeriod: HOURLY) { items { timestamp } }'
    query = "{ user { " + " ".join(f"p{index}: portfolio{series}" for index in range(6)) + " } }"
    payload = await run(client, query)
    assert [len(payload["data"]["user"][f"p{index}"]["items"]) for index in range(5)] == [200] * 5
    assert payload["data"]["user"]["p5"] is None
    assert payload["errors"][0]["errorType"] == "LimitExceededException" and payload["errors"][0]["path"] == ["user", "p5"]


# --- numbers ------------------------------------------------------------------------------------

CONVERTED_FIELDS = (
    'timestamp total { value currency timestamp in(currency: "USD") { value currency timestamp } } '
    "balances { items { asset { symbol } amount { value currency timestamp "
    'gbp: in(currency: "GBP") { value currency timestamp } usd: in(currency: "USD") { value currency timestamp } } } }'
)


def assert_adds_up(point: dict[str, Any]) -> None:
    """The total is the exact sum of the balances converted to its currency, in GBP and in USD."""
    balances = point["balances"]["items"]
    assert point["total"]["currency"] == "GBP"
    assert Decimal(point["total"]["value"]) == sum(Decimal(item["amount"]["gbp"]["value"]) for item in balances)
    assert Decimal(point["total"]["in"]["value"]) == sum(Decimal(item["amount"]["usd"]["value"]) for item in balances)
    for value in [point["total"]["value"], point["total"]["in"]["value"], *(item["amount"]["usd"]["value"] for item in balances)]:
        assert DECIMAL.fullmatch(value), value


async def test_total_is_the_sum_of_the_converted_balances(client: Any) -> None:
    series = await items_of(
        client, '(startDate: "2021-02-16T00:00:00Z", endDate: "2026-01-15T15:00:00Z", timePeriod: WEEKLY)', CONVERTED_FIELDS
    )
    assert len(series) == 200
    for point in series:
        assert_adds_up(point)


async def test_totals_add_up_for_other_users(make_client: Any) -> None:
    client = await make_client(specs=[ROOT / "specs"], credentials={"bitpanda": [{"x-api-key": f"user-{n}"} for n in range(8)]})
    for n in range(8):
        for point in await items_of(client, "", CONVERTED_FIELDS, headers={"x-api-key": f"user-{n}"}):
            assert_adds_up(point)


async def test_usd_values_come_from_the_shared_price_history(client: Any) -> None:
    [point] = await items_of(client, '(endDate: "2023-07-04T09:00:00Z")', CONVERTED_FIELDS)
    for item in point["balances"]["items"]:
        usd = item["amount"]["usd"]
        at = datetime.fromisoformat(usd["timestamp"].replace("Z", "+00:00"))
        price = Decimal(repr(round_price(price_usd(item["asset"]["symbol"], at))))
        assert Decimal(usd["value"]) == Decimal(item["amount"]["value"]) * price
        gbp = item["amount"]["gbp"]
        quote = Decimal(repr(round_price(price_usd(item["asset"]["symbol"], at) / custody.fx_usd(MARKET, "GBP", at))))
        assert Decimal(gbp["value"]) == Decimal(item["amount"]["value"]) * quote


async def test_amounts_are_the_assets_own_unit(client: Any) -> None:
    [point] = await items_of(client, "", CONVERTED_FIELDS)
    for item in point["balances"]["items"]:
        assert item["amount"]["currency"] == item["asset"]["symbol"]
        assert item["amount"]["timestamp"] == point["timestamp"]
        assert Decimal(item["amount"]["value"]) > 0


async def test_converting_twice_converts_the_assets_directly(client: Any) -> None:
    query = '{ user { portfolio { items { total { in(currency: "USD") { in(currency: "EUR") { value currency timestamp } } eur: in(currency: "EUR") { value currency timestamp } } } } } }'
    payload = await run(client, query)
    [point] = payload["data"]["user"]["portfolio"]["items"]
    assert point["total"]["in"]["in"] == point["total"]["eur"]
    assert point["total"]["eur"]["currency"] == "EUR"


@pytest.mark.parametrize("currency", ["GBP", "USD", "EUR", "CHF", "JPY", "usd", " eur "])
async def test_supported_currencies(client: Any, currency: str) -> None:
    payload = await run(client, f'{{ user {{ portfolio {{ items {{ total {{ in(currency: "{currency}") {{ value currency }} }} }} }} }} }}')
    converted = payload["data"]["user"]["portfolio"]["items"][0]["total"]["in"]
    assert converted["currency"] == currency.strip().upper()
    assert Decimal(converted["value"]) > 0


async def test_gbp_total_in_gbp_is_the_total(client: Any) -> None:
    payload = await run(client, '{ user { portfolio { items { total { value in(currency: "GBP") { value } } } } } }')
    total = payload["data"]["user"]["portfolio"]["items"][0]["total"]
    assert total["in"]["value"] == total["value"]


@pytest.mark.parametrize("currency", ["XYZ", "BTC", "", "US DOLLAR"])
async def test_unknown_currency_is_a_field_error(client: Any, currency: str) -> None:
    query = f'{{ user {{ portfolio {{ items {{ timestamp total {{ value in(currency: "{currency}") {{ value }} }} }} }} }} }}'
    payload = await run(client, query)
    [point] = payload["data"]["user"]["portfolio"]["items"]
    assert point["total"]["in"] is None and DECIMAL.fullmatch(point["total"]["value"])
    [error] = payload["errors"]
    assert error["path"] == ["user", "portfolio", "items", 0, "total", "in"]
    assert error["errorType"] == "BadRequestException"
    assert "GBP" in error["message"] and "USD" in error["message"]


async def test_missing_currency_argument_is_a_validation_error(client: Any) -> None:
    response = await client.post(URL, json={"query": "{ user { portfolio { items { total { in { value } } } } } }"}, headers=AUTH)
    assert response.status == 400
    assert (await response.json())["errors"][0]["errorType"] == "ValidationError"


async def test_balance_fields(client: Any) -> None:
    fields = "balances { items { asset { symbol displaySymbol name chain decimalPlace } amount { value currency } available { value currency } } nextToken }"
    [point] = await items_of(client, "", fields)
    balances = point["balances"]
    assert balances["nextToken"] is None
    symbols = [item["asset"]["symbol"] for item in balances["items"]]
    assert symbols[:2] == ["ETH", "BTC"] and len(symbols) == len(set(symbols)) >= 3
    assert symbols == [asset.symbol for asset in custody.CUSTODY_ASSETS if asset.symbol in symbols]  # the fixed order
    for item in balances["items"]:
        asset = custody.ASSET_BY_SYMBOL[item["asset"]["symbol"]]
        assert item["asset"] == {
            "symbol": asset.symbol,
            "displaySymbol": asset.symbol,
            "name": asset.name,
            "chain": asset.chain,
            "decimalPlace": asset.decimal_place,
        }
        assert item["available"] == item["amount"]
        assert len(item["amount"]["value"].partition(".")[2]) <= asset.decimal_place
    btc = next(item for item in balances["items"] if item["asset"]["symbol"] == "BTC")
    assert btc["asset"]["decimalPlace"] == 8 and btc["asset"]["chain"] == "BITCOIN" and btc["asset"]["name"] == "Bitcoin"


async def test_holdings_change_over_time_and_sold_assets_leave_the_list(make_client: Any) -> None:
    key, ledger = _a_user_who_sold_an_asset()
    client = await make_client(specs=[ROOT / "specs"], credentials={"bitpanda": [{"x-api-key": key}]})
    sold = ledger.hours[-1]
    before = custody.hour_text(sold - 1)
    after = custody.hour_text(sold)
    fields = f"balances {{ items {{ {AMOUNT} }} }}"
    [held] = await items_of(client, f'(endDate: "{before}")', fields, headers={"x-api-key": key})
    [gone] = await items_of(client, f'(endDate: "{after}")', fields, headers={"x-api-key": key})
    currencies = [item["amount"]["currency"] for item in held["balances"]["items"]]
    assert ledger.asset.symbol in currencies
    assert ledger.asset.symbol not in [item["amount"]["currency"] for item in gone["balances"]["items"]]
    first = await items_of(client, '(endDate: "2021-02-16T00:00:00Z")', fields, headers={"x-api-key": key})
    latest = await items_of(client, "", fields, headers={"x-api-key": key})
    assert first != latest


def _a_user_who_sold_an_asset() -> tuple[str, custody.Ledger]:
    latest = custody.nearest_hour(custody.instant_ns(datetime(2026, 1, 15, 15, tzinfo=UTC)))
    for n in range(200):
        for ledger in custody.holdings_for(World(0), "bitpanda", f"seller-{n}").ledgers:
            if ledger.units[-1] == 0 and ledger.hours[-1] <= latest:
                return f"seller-{n}", ledger
    raise AssertionError("no seeded user sold an asset")


# --- determinism --------------------------------------------------------------------------------


async def test_same_query_same_answer_across_restarts(make_client: Any) -> None:
    first = await run(await make_client(specs=[ROOT / "specs"]), CONVERTED_QUERY)
    second = await run(await make_client(specs=[ROOT / "specs"]), CONVERTED_QUERY)
    assert first == second
    reseeded = await run(await make_client(specs=[ROOT / "specs"], seed=7), CONVERTED_QUERY)
    assert reseeded != first


async def test_a_past_hour_does_not_depend_on_the_clock(make_client: Any) -> None:
    query = CONVERTED_QUERY.replace("portfolio {", 'portfolio(endDate: "2023-05-05T05:05:05Z") {')
    early = await run(await make_client(specs=[ROOT / "specs"], clock="2024-01-01T00:00:00Z"), query)
    late = await run(await make_client(specs=[ROOT / "specs"]), query)
    assert early == late


async def test_reset_keeps_the_answers(client: Any) -> None:
    before = await run(client, CONVERTED_QUERY)
    assert (await client.post("/__mock/reset", headers={"Content-Type": "application/json"})).status == 200
    assert await run(client, CONVERTED_QUERY) == before


# --- transport in AppSync's format --------------------------------------------------------------


async def test_get_query(client: Any) -> None:
    response = await client.get(URL, params={"query": LATEST_QUERY}, headers=AUTH)
    assert response.status == 200
    assert await response.json() == await run(client, LATEST_QUERY)


async def test_mutation_over_get_is_405(client: Any) -> None:
    response = await client.get(URL, params={"query": "mutation { user }"}, headers=AUTH)
    assert response.status == 405 and response.headers["Allow"] == "POST"
    assert (await response.json())["errors"][0]["errorType"] == "MethodNotAllowedException"


async def test_mutation_over_post_is_a_validation_error(client: Any) -> None:
    response = await client.post(URL, json={"query": "mutation { user }"}, headers=AUTH)
    assert response.status == 400
    assert "mutation" in (await response.json())["errors"][0]["message"]


@pytest.mark.parametrize(
    ("data", "headers", "status", "words"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "not valid JSON"),
        (b"[]", {"Content-Type": "application/json"}, 400, "JSON object"),
        (b"{}", {"Content-Type": "application/json"}, 400, "no `query`"),
        (b'{"query": 7}', {"Content-Type": "application/json"}, 400, "`query` must be a string"),
        (
            b'{"query": "{ user { portfolio { items { timestamp } } } }", "variables": []}',
            {"Content-Type": "application/json"},
            400,
            "`variables`",
        ),
        (
            b'{"query": "{ user { portfolio { items { timestamp } } } }", "variables": "{}"}',
            {"Content-Type": "application/json"},
            400,
            "`variables`",
        ),
        (b"", {"Content-Type": "application/json"}, 400, "empty"),
        (b'{"query": "{ user }"}', {"Content-Type": "text/plain"}, 415, "application/json"),
        (b"query=%7B%7D", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"),
    ],
)
async def test_malformed_requests_are_malformed_http_request_exceptions(
    client: Any, data: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    response = await client.post(URL, data=data, headers={**AUTH, **headers})
    body = await response.json()
    assert response.status == status, body
    [error] = body["errors"]
    assert set(error) == {"errorType", "message"}
    assert error["errorType"] == "MalformedHttpRequestException"
    assert words in error["message"]


async def test_oversized_body_is_413(make_client: Any) -> None:
    client = await make_client(specs=[ROOT / "specs"], max_body_bytes=256)
    response = await client.post(URL, json={"query": "{ user { portfolio { items { timestamp } } } }" + " " * 300}, headers=AUTH)
    assert response.status == 413
    assert (await response.json())["errors"][0]["errorType"] == "MalformedHttpRequestException"


async def test_syntax_error_is_400_with_locations(client: Any) -> None:
    response = await client.post(URL, json={"query": "{ user { portfolio { items { timestamp } }"}, headers=AUTH)
    body = await response.json()
    assert response.status == 400
    [error] = body["errors"]
    assert error["errorType"] == "InvalidSyntax"
    assert error["message"].startswith("Syntax Error")
    assert error["locations"] == [{"line": 1, "column": 43, "sourceName": None}]
    assert error["path"] is None


async def test_unknown_path_and_method(client: Any) -> None:
    response = await client.get("/bitpanda/query", headers=AUTH)
    assert response.status == 404 and (await response.json())["errors"][0]["errorType"] == "NotFoundException"
    response = await client.delete(URL, headers=AUTH)
    assert response.status == 405 and response.headers["Allow"] == "GET, POST"


# --- real clients -------------------------------------------------------------------------------


async def test_gql_client_fetches_the_schema_and_runs_the_documents_queries(client: Any) -> None:
    transport = AIOHTTPTransport(url=str(client.make_url(URL)), headers=AUTH)
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        result = await session.execute(gql(CONVERTED_QUERY))
        assert set(result["user"]["portfolio"]["items"][0]) == {"timestamp", "total", "balances"}
        request = gql(
            'query Series($end: String) { user { portfolio(startDate: "2021-02-23T12:00:00.000Z", endDate: $end, timePeriod: WEEKLY) { items { timestamp } } } }'
        )
        request.variable_values = {"end": "2021-03-02T12:00:00.000Z"}
        series = await session.execute(request)
        assert [item["timestamp"] for item in series["user"]["portfolio"]["items"]] == [
            "2021-03-02T12:00:00.000Z",
            "2021-02-23T12:00:00.000Z",
        ]
        assert session.client.schema is not None
        amount = session.client.schema.get_type("Amount")
        assert "in" in amount.fields  # the introspected schema is the SDL's
        assert set(session.client.schema.get_type("TimePeriod").values) == {"HOURLY", "DAILY", "WEEKLY", "MONTHLY"}


def test_sdl_covers_every_field_the_document_uses() -> None:
    schema = build_schema(SDL)
    expected = {
        "Query": {"user"},
        "User": {"portfolio"},
        "PortfolioConnection": {"items"},
        "Portfolio": {"timestamp", "total", "balances"},
        "BalanceConnection": {"items", "nextToken"},
        "Balance": {"asset", "amount", "available"},
        "Asset": {"symbol", "displaySymbol", "name", "chain", "decimalPlace"},
        "Amount": {"value", "currency", "timestamp", "in"},
    }
    for type_name, fields in expected.items():
        assert set(schema.get_type(type_name).fields) == fields
    assert set(schema.get_type("User").fields["portfolio"].args) == {"startDate", "endDate", "timePeriod"}
    assert str(schema.get_type("Amount").fields["in"].args["currency"].type) == "String!"


# --- property-based: any query the schema allows is answered, never with an internal error -------


def test_generated_queries_never_fail_inside() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    hypothesis_graphql = pytest.importorskip("hypothesis_graphql")
    import requests

    from ..helpers import running_server

    with running_server() as base, requests.Session() as http:

        @hypothesis.settings(max_examples=60, deadline=None, derandomize=True, database=None)
        @hypothesis.given(hypothesis_graphql.queries(SDL))
        def check(query: str) -> None:
            response = http.post(base + URL, json={"query": query}, headers=AUTH, timeout=30)
            body = response.json()
            assert response.status_code in (200, 400), body
            for error in body.get("errors", []):
                assert error["errorType"] in {"BadRequestException", "LimitExceededException", "ValidationError"}, error

        check()


# --- the engine around it: journal, faults, control token ---------------------------------------


async def test_journal_names_the_graphql_operation_and_hides_the_key(client: Any) -> None:
    await run(client, LATEST_QUERY)
    response = await client.get(URL, params={"query": "{ user { portfolio { items { timestamp } } } }"}, headers=AUTH)
    assert response.status == 200
    entries = [entry.as_dict() for entry in client.app[TRAFFIC].journal.newest_first() if entry.api == "bitpanda"]
    assert [entry["operation"] for entry in entries[:2]] == ["query", "query UserPortfolioQuery"]
    assert KEY not in str(entries)


async def test_injected_fault_answers_in_appsync_format(client: Any) -> None:
    added = await client.post("/__mock/faults", json={"api": "bitpanda", "operation": "graphql", "status": 429, "count": 1})
    assert added.status in (200, 201), await added.text()
    response = await client.post(URL, json={"query": LATEST_QUERY}, headers=AUTH)
    body = await response.json()
    assert response.status == 429
    assert body["errors"][0]["errorType"] == "LimitExceededException" and set(body["errors"][0]) == {"errorType", "message"}
    assert (await client.post(URL, json={"query": LATEST_QUERY}, headers=AUTH)).status == 200


def test_control_token_must_differ_from_the_api_key() -> None:
    with pytest.raises(SettingsError):
        create_app(load_settings({"control_token": KEY}, environ={}))


# --- answers kept and sent again --------------------------------------------------------------------


def count_executions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count graphql-core executions from here on."""
    calls: list[int] = []
    real = mockserver.graphql.execute_sync

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mockserver.graphql, "execute_sync", counting)
    return calls


async def test_a_repeated_query_is_answered_again_without_executing(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_executions(monkeypatch)
    first = await run(client, SERIES_QUERY)
    again = await run(client, SERIES_QUERY)
    assert first == again and len(calls) == 1
    unused = await run(client, SERIES_QUERY, variables={"unused": 1})  # a variable the operation does not declare changes nothing
    assert unused == first and len(calls) == 1
    query = "query At($end: String) { user { portfolio(endDate: $end) { items { timestamp } } } }"
    march = await run(client, query, variables={"end": "2021-03-01T12:00:00Z"})
    assert await run(client, query, variables={"end": "2021-03-02T12:00:00Z"}) != march and len(calls) == 3  # declared ones do


async def test_kept_answers_are_per_user(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await make_client(specs=[ROOT / "specs"], credentials=CONFIGURED)
    calls = count_executions(monkeypatch)
    alice = await run(client, LATEST_QUERY, headers={"x-api-key": "key-alice"})
    bob = await run(client, LATEST_QUERY, headers={"x-api-key": "key-bob"})
    locked = await run(client, LATEST_QUERY, headers={"x-api-key": "key-locked"})
    assert len(calls) == 3 and alice != bob and locked["data"] == {"user": None}
    assert await run(client, LATEST_QUERY, headers={"x-api-key": "key-bob"}) == bob and len(calls) == 3


async def test_field_errors_are_kept_too(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_executions(monkeypatch)
    arguments = '(startDate: "2026-01-13T15:00:00Z")'  # timePeriod is missing: a field error
    assert await field_error(client, arguments) == await field_error(client, arguments)
    assert len(calls) == 1


async def test_with_a_live_clock_every_query_is_executed(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await make_client(specs=[ROOT / "specs"], clock="now")
    calls = count_executions(monkeypatch)
    await run(client, LATEST_QUERY)
    await run(client, LATEST_QUERY)
    assert len(calls) == 2


async def test_reset_forgets_kept_answers(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    await run(client, LATEST_QUERY)
    calls = count_executions(monkeypatch)
    assert (await client.post("/__mock/reset", headers={"Content-Type": "application/json"})).status in (200, 204)
    await run(client, LATEST_QUERY)
    assert len(calls) == 1
