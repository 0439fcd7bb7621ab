"""A documented rule is never skipped: every rule a vendor enforces beyond its spec's schemas
(vendors.Rule) answers the same 4xx with and without each form of `Prefer` (the header's code,
example and dynamic preferences, and the `__code` / `__example` query stand-ins), and the same
preference steers a valid request, so each form is shown to be honoured where no rule is broken.

Mesh's TimezoneOffset moves only what its document says: cryptocurrencies' daily returns, not
equities' (which keep their exchange's trading day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from .bitcain.helpers import AUTH as BITCAIN_AUTH
from .bitcain.helpers import BASE as BITCAIN
from .bitcain.helpers import CORE, SANDBOX_USER
from .helpers import MESH_AUTH, PORTFOLIO, MakeClient
from .treasure.helpers import AUTH as TREASURE_AUTH

TREASURE_HISTORY = "/treasure/v1/businesses/urn:uuid:9b397b0d-69bc-b09f-9d82-0e02637042fc/portfolio_history"
CSV_HEADER = "Timestamp,Transaction Type,Asset,Quantity Transacted,Spot Price Currency,Spot Price at Transaction\n"


@dataclass(frozen=True)
class Case:
    """A request that breaks one rule (`query`, `body`, `upload`), and the same request keeping it (`kept`)."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    kept: dict[str, Any]  # what changes to keep the rule: query parameters, "body", "upload"
    status: int
    body: Any = None
    upload: str | None = None
    example: str = ""  # a named example of the success response, for `Prefer: example=`
    extra_headers: dict[str, str] = field(default_factory=dict)


def new_portfolio(targets: dict[str, float]) -> Case:
    """A bitcain create whose target allocations break the allocation rule."""
    kept = {"body": {"name": "kept", "target_allocations": {"BTC": 1.0}}}
    return Case(
        "POST", f"{BITCAIN}/", BITCAIN_AUTH, {"user_id": "rules"}, kept, 422, body={"name": "broken", "target_allocations": targets}
    )


CASES = {
    "mesh TimezoneOffset beyond 14 h": Case(
        "GET", PORTFOLIO, MESH_AUTH, {"UserId": "rules", "TimezoneOffset": "50401"}, {"TimezoneOffset": "50400"}, 400
    ),
    "bitcain allocations not summing to 1.0": new_portfolio({"BTC": 0.5, "ETH": 0.4}),
    "bitcain allocation of an unknown asset": new_portfolio({"XYZ": 1.0}),
    "bitcain update to bad allocations": Case(
        "PUT",
        f"{BITCAIN}/{CORE}",
        BITCAIN_AUTH,
        {"user_id": SANDBOX_USER},
        {"body": {"description": "kept"}},
        422,
        body={"target_allocations": {"BTC": 2.0}},
    ),
    "bitcain unsupported exchange": Case(
        "GET", f"{BITCAIN}/balances", BITCAIN_AUTH, {"exchange": "bitstamp"}, {"exchange": "coinbase"}, 400
    ),
    "bitcain unsupported currency (history)": Case(
        "GET", f"{BITCAIN}/history", BITCAIN_AUTH, {"currency": "EUR"}, {"currency": "USD"}, 400
    ),
    "bitcain unsupported currency (performance)": Case(
        "GET", f"{BITCAIN}/history/performance", BITCAIN_AUTH, {"currency": "EUR"}, {"currency": "USD"}, 400
    ),
    "bitcain unsupported currency (export)": Case(
        "GET", f"{BITCAIN}/history/export", BITCAIN_AUTH, {"currency": "EUR"}, {"currency": "USD"}, 400
    ),
    "bitcain empty CSV file": Case(
        "POST",
        f"{BITCAIN}/ingest/csv",
        BITCAIN_AUTH,
        {"dry_run": "true"},
        {"upload": CSV_HEADER + "2024-01-01T00:00:00Z,Buy,BTC,0.001,USD,40000\n"},
        422,
        upload="",
    ),
    "treasure start_date after end_date": Case(
        "GET",
        TREASURE_HISTORY,
        TREASURE_AUTH,
        {"start_date": "2024-03-01", "end_date": "2024-01-01"},
        {"start_date": "2023-12-01"},
        400,
    ),
    "treasure Accept without JSON": Case(
        "GET",
        TREASURE_HISTORY,
        TREASURE_AUTH,
        {"start_date": "2024-01-01", "end_date": "2024-03-01"},
        {"Accept": "application/json"},
        406,
        extra_headers={"Accept": "text/csv"},
    ),
}
# each form of a preference: extra headers, extra query parameters
PREFERENCES = {
    "none": ({}, {}),
    "Prefer code": ({"Prefer": "code=200"}, {}),
    "Prefer dynamic": ({"Prefer": "dynamic=true"}, {}),
    "__code": ({}, {"__code": "200"}),
}


async def send(client: TestClient, case: Case, headers: dict[str, str], query: dict[str, str], keep: bool) -> aiohttp.ClientResponse:
    kept = case.kept if keep else {}
    params = {**case.query, **{k: v for k, v in kept.items() if k not in ("body", "upload", "Accept")}, **query}
    all_headers = {**case.headers, **case.extra_headers, **({"Accept": kept["Accept"]} if "Accept" in kept else {}), **headers}
    if case.upload is not None:
        form = aiohttp.FormData()
        form.add_field("file", kept.get("upload", case.upload).encode(), filename="statement.csv", content_type="text/csv")
        return await client.request(case.method, case.path, params=params, data=form, headers=all_headers)
    body = kept.get("body", case.body)
    return await client.request(case.method, case.path, params=params, json=body, headers=all_headers)


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    return await make_client()


@pytest.mark.parametrize("preference", PREFERENCES)
@pytest.mark.parametrize("name", CASES)
async def test_a_vendor_rule_answers_the_same_with_any_preference(client: TestClient, name: str, preference: str) -> None:
    case = CASES[name]
    plain = await send(client, case, {}, {}, keep=False)
    assert plain.status == case.status
    expected = await plain.read()
    headers, query = PREFERENCES[preference]
    preferred = await send(client, case, headers, query, keep=False)
    assert (preferred.status, await preferred.read()) == (case.status, expected)
    honoured = await send(client, case, headers, query, keep=True)  # the rule kept: the preference counts again
    assert honoured.status // 100 == 2, await honoured.text()


def example_names(client: TestClient, method: str, path: str) -> list[str]:
    """The named examples of an operation's success response, from the mounted plans."""
    from mockserver.appkeys import APIS

    for api in client.app[APIS]:
        for plan in getattr(api, "plans", []):
            if plan.method == method and plan.path_regex.fullmatch(path[len(api.mount) :] or "/") and plan.responses.success:
                return list(plan.responses.success.examples)
    return []


@pytest.mark.parametrize("name", CASES)
async def test_a_vendor_rule_answers_the_same_with_a_preferred_example(client: TestClient, name: str) -> None:
    case = CASES[name]
    # a named example of the response where it has one; else any name, which without the rule
    # would be refused in other words ("Prefer example ... does not exist")
    example = next(iter(example_names(client, case.method, case.path)), "any")
    plain = await send(client, case, {}, {}, keep=False)
    for headers, query in (({"Prefer": f"example={example}"}, {}), ({}, {"__example": example})):
        preferred = await send(client, case, headers, query, keep=False)
        assert (preferred.status, await preferred.read()) == (plain.status, await plain.read())
        assert preferred.status == case.status


async def positions(client: TestClient, offset: int) -> dict[str, dict[str, Any]]:
    params = {"UserId": "brokerage-and-crypto", "TimezoneOffset": str(offset)}  # mesh.NAMED_USERS: equities and crypto
    response = await client.get(PORTFOLIO, params=params, headers=MESH_AUTH)
    assert response.status == 200
    content = (await response.json())["content"]
    return {
        position["symbol"]: {"kind": kind, "daily": (position["totalDailyReturn"], position["dailyReturnPercentage"])}
        for kind in ("equityPositions", "cryptocurrencyPositions")
        for position in content[kind]
    }


async def test_timezone_offset_moves_crypto_daily_returns_and_not_equities(make_client: MakeClient) -> None:
    client = await make_client()
    at = {offset: await positions(client, offset) for offset in (0, 36_000, -36_000)}
    equities = {symbol for symbol, seen in at[0].items() if seen["kind"] == "equityPositions"}
    crypto = {symbol for symbol, seen in at[0].items() if seen["kind"] == "cryptocurrencyPositions"}
    assert equities and crypto
    for symbol in equities:
        assert at[0][symbol]["daily"] == at[36_000][symbol]["daily"] == at[-36_000][symbol]["daily"]
    assert any(at[0][symbol]["daily"] != at[36_000][symbol]["daily"] for symbol in crypto)
    assert any(at[0][symbol]["daily"] != at[-36_000][symbol]["daily"] for symbol in crypto)
