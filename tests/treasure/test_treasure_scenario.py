"""Treasure businesses shaped at run time, over HTTP: a scenario's opening, contributions and allocations
give a monthly history that adds up to the cent on the shared returns; its client sees it, others do
not; every problem of a refused scenario; export and import; sessions keep their scenarios apart."""

from __future__ import annotations

import itertools
import json
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockserver.sandbox.shares import apportion
from mockserver.vendors.treasure.model import DOCUMENT_BUSINESS, PRODUCTS, month_index, monthly_return_ppm, portfolio_id_of

from ..helpers import JSON, ROOT, MakeClient, install, session_of
from .helpers import AUTH

SEED = 0  # the default settings'
BUSINESS = "urn:uuid:0c6e2f4a-5b7d-4e8f-9a1b-2c3d4e5f6a7b"
BUSINESS_IN_CAPITALS = "urn:uuid:0C6E2F4A-5B7D-4E8F-9A1B-2C3D4E5F6A7B"  # the same business: its hex digits in either case
OPENED = {"product": "managed_treasuries", "percentage": 60}, {"product": "managed_income", "percentage": 40}
SHAPED = {
    "business_id": BUSINESS,
    "opening_date": "2023-01-01",
    "allocations": [
        {"date": "2023-01-01", "products": list(OPENED)},
        {"date": "2024-01-01", "products": [{"product": "managed_money_market", "percentage": 100}]},
    ],
    "contributions": [
        {"date": "2023-09-01", "amount": -10000},  # in any order
        {"date": "2023-01-01", "amount": 100000},
        {"date": "2023-04-01", "amount": 25000.5},
    ],
}
RANGE = {"start_date": "2022-06-15", "end_date": "2024-03-31"}
TWO_CLIENTS = {
    "treasure": [
        {"client_id": "client-a", "client_secret": "secret-a", "bearerAuth": "token-a"},
        {"client_id": "client-b", "client_secret": "secret-b", "bearerAuth": "token-b"},
    ]
}


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    return await make_client(specs=[ROOT / "specs"])


async def history_of(
    client: TestClient, prefix: str, business: str = BUSINESS, auth: dict[str, str] = AUTH, **query: str
) -> tuple[int, Any]:
    url = f"{prefix}/treasure/v1/businesses/{business}/portfolio_history"
    response = await client.get(url, params=query or RANGE, headers=auth)
    return response.status, await response.json()


def values_of(snapshot: dict[str, Any]) -> list[int]:
    """A snapshot's product values in cents, in PRODUCTS order (0: not held)."""
    held = {item["product"]: round(item["value"] * 100) for item in snapshot["portfolio"]["products"]}
    return [held.get(product, 0) for product in PRODUCTS]


def grown(values: list[int], month: str) -> list[int]:
    """Each product's cents after the month starting on `month`, at the return every business shares, rounded half up."""
    index = month_index(date.fromisoformat(month))
    return [(cents * (10**6 + monthly_return_ppm(p, index, SEED)) + 5 * 10**5) // 10**6 for p, cents in zip(PRODUCTS, values, strict=True)]


def assert_adds_up(snapshot: dict[str, Any]) -> None:
    products = snapshot["portfolio"]["products"]
    assert sum(round(item["value"] * 100) for item in products) == round(snapshot["portfolio"]["total_value"] * 100)
    assert sum(round(item["percentage"] * 100) for item in products) == 10_000
    assert all(item["value"] > 0 for item in products)


async def test_a_shaped_business_adds_up_to_the_cent_on_the_shared_returns(client: TestClient) -> None:
    prefix = await session_of(client, "shaped")
    assert await install(client, prefix, {"treasure": {"businesses": [SHAPED]}}) == (201, {"installed": ["treasure"]})
    status, body = await history_of(client, prefix)
    assert status == 200 and (body["business_id"], body["start_date"], body["end_date"]) == (BUSINESS, "2022-06-15", "2024-03-31")
    history = body["history"]
    assert [snapshot["date"] for snapshot in history] == [f"{2023 + m // 12}-{m % 12 + 1:02d}-01" for m in range(15)]
    assert {snapshot["portfolio"]["id"] for snapshot in history} == {portfolio_id_of(SEED, BUSINESS)}
    first = history[0]["portfolio"]
    assert first["total_value"] == 100000 and first["products"] == [
        {"product": "managed_treasuries", "percentage": 60.0, "value": 60000.0},
        {"product": "managed_income", "percentage": 40.0, "value": 40000.0},
    ]
    expected = values_of(history[0])
    for before, snapshot in itertools.pairwise(history):
        assert_adds_up(snapshot)
        expected = grown(expected, before["date"])
        day = snapshot["date"]
        if day == "2023-04-01":  # a deposit, split 60/40 as the allocation then in force
            expected = [cents + part for cents, part in zip(expected, apportion(2_500_050, [0, 6000, 4000]), strict=True)]
        elif day == "2023-09-01":  # a withdrawal, from each product in proportion to what it holds
            expected = [cents - part for cents, part in zip(expected, apportion(1_000_000, expected), strict=True)]
        elif day == "2024-01-01":  # everything rebalanced into the money market
            expected = [sum(expected), 0, 0]
        assert values_of(snapshot) == expected, day
    assert [item["product"] for item in history[-1]["portfolio"]["products"]] == ["managed_money_market"]


async def test_the_history_ends_at_the_sandbox_clock(client: TestClient) -> None:
    prefix = await session_of(client, "clocked")
    await install(client, prefix, {"treasure": {"businesses": [SHAPED]}})
    response = await client.put(f"{prefix}/__mock/clock", json={"now": "2023-06-20T12:00:00Z", "frozen": True}, headers=JSON)
    assert response.status == 200
    history = (await history_of(client, prefix))[1]["history"]
    assert [snapshot["date"] for snapshot in history] == [
        "2023-01-01",
        "2023-02-01",
        "2023-03-01",
        "2023-04-01",
        "2023-05-01",
        "2023-06-01",
    ]
    await client.post(f"{prefix}/__mock/clock/advance", json={"days": 30}, headers=JSON)
    later = (await history_of(client, prefix))[1]["history"]
    assert later[:6] == history and later[-1]["date"] == "2023-07-01"


async def test_a_withdrawal_takes_at_most_everything_and_a_deposit_opens_it_again(client: TestClient) -> None:
    prefix = await session_of(client, "emptied")
    contributions = [
        {"date": "2023-01-01", "amount": 1000},
        {"date": "2023-02-01", "amount": -5000},
        {"date": "2023-04-01", "amount": 300.25},
    ]
    shaped = {**SHAPED, "portfolio_id": "urn:uuid:portfolio-emptied", "contributions": contributions}
    await install(client, prefix, {"treasure": {"businesses": [shaped]}})
    history = (await history_of(client, prefix, start_date="2023-01-01", end_date="2023-04-01"))[1]["history"]
    assert [snapshot["portfolio"]["total_value"] for snapshot in history] == [1000, 0, 0, 300.25]
    assert history[1]["portfolio"] == {"id": "urn:uuid:portfolio-emptied", "products": [], "total_value": 0}
    assert values_of(history[3]) == [0, *apportion(30025, [60, 40])]


async def test_a_business_is_seen_by_its_client_or_by_every_client(make_client: MakeClient) -> None:
    client = await make_client(specs=[ROOT / "specs"], credentials=TWO_CLIENTS)
    everyones = "urn:uuid:11111111-2222-4333-8444-55555555555a"
    scenario = {"businesses": [{**SHAPED, "client_id": "client-a"}, {**SHAPED, "business_id": everyones}]}
    assert (await install(client, "", {"treasure": scenario}))[0] == 201
    client_a, client_b = {"Authorization": "Bearer token-a"}, {"Authorization": "Bearer token-b"}
    assert (await history_of(client, "", auth=client_a))[0] == 200
    status, body = await history_of(client, "", auth=client_b)
    assert status == 404 and body["details"][0]["reason_code"] == "NOT_FOUND"
    for auth in (client_a, client_b):
        assert (await history_of(client, "", "urn:uuid:11111111-2222-4333-8444-55555555555A", auth=auth))[0] == 200


async def test_an_invalid_scenario_is_422_listing_every_problem(client: TestClient) -> None:
    prefix = await session_of(client, "refused")
    wrong = {
        "business_id": "9b397b0d-69bc-b09f-9d82-0e02637042fc",
        "client_id": "",
        "opening_date": "2023-01-15",
        "allocations": [
            {
                "date": "2023-01-01",
                "products": [{"product": "managed_income", "percentage": 33.333}, {"product": "bonds", "percentage": 50}],
            },
            {
                "date": "2023-01-01",
                "products": [{"product": "managed_income", "percentage": 60}, {"product": "managed_income", "percentage": 40}],
            },
            {"date": "2023-02-01", "products": [{"product": "managed_treasuries", "percentage": 90}], "note": 1},
        ],
        "contributions": [{"date": "2023-02-30", "amount": 0}, {"date": "2023-03-01", "amount": 0.001}],
        "owner": "x",
    }
    unopened = {
        **SHAPED,
        "business_id": "urn:uuid:22222222-2222-4222-8222-222222222222",
        "contributions": [{"date": "2023-01-01", "amount": -5}],
        "allocations": [SHAPED["allocations"][1]],
    }
    scenario = {"treasure": {"businesses": [wrong, SHAPED, {**SHAPED, "business_id": BUSINESS_IN_CAPITALS}, unopened, 7]}}
    response = await client.post(f"{prefix}/__mock/scenarios", data=json.dumps(scenario), headers=JSON)
    body = await response.json()
    assert response.status == 422 and response.content_type == "application/problem+json"
    first, third, fourth, fifth = "treasure.businesses[0]", "treasure.businesses[2]", "treasure.businesses[3]", "treasure.businesses[4]"
    assert [violation["message"] for violation in body["violations"]] == [
        f"{first}.owner: unknown member (known: allocations, business_id, client_id, contributions, opening_date, portfolio_id)",
        f"{first}.business_id: a UUID URN, urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        f"{first}.client_id: a string of 1 to 200 characters",
        f"{first}.opening_date: the 1st of a month, YYYY-MM-01, from 1970-01-01 to 9999-12-01",
        f"{first}.allocations[0].products[0].percentage: a number above 0, at most 100, with at most two decimals",
        f"{first}.allocations[0].products[1].product: one of managed_money_market, managed_treasuries, managed_income",
        f"{first}.allocations[1].products[1].product: managed_income is listed twice",
        f"{first}.allocations[1].date: 2023-01-01 is given twice",
        f"{first}.allocations[2].note: unknown member (known: date, products)",
        f"{first}.allocations[2].products: the percentages add up to 90, not 100",
        f"{first}.contributions[0].amount: a deposit (above 0) or withdrawal (below 0) of at most 10,000,000,000 with at most two decimals",
        f"{first}.contributions[0].date: the 1st of a month, YYYY-MM-01, from 1970-01-01 to 9999-12-01",
        f"{first}.contributions[1].amount: a deposit (above 0) or withdrawal (below 0) of at most 10,000,000,000 with at most two decimals",
        f"{third}.business_id: {BUSINESS_IN_CAPITALS} is listed twice",
        f"{fourth}.allocations: none is dated the opening_date 2023-01-01",
        f"{fourth}.contributions: the one on the opening_date 2023-01-01 opens the portfolio, a deposit above 0",
        f"{fifth}: a business is an object",
    ]
    assert (await client.get(f"{prefix}/__mock/scenarios")).status == 200
    assert await (await client.get(f"{prefix}/__mock/scenarios")).json() == {}  # nothing of it was installed


@pytest.mark.parametrize(
    "payload",
    [[], {"businesses": {}}, {"businesses": [], "users": []}, {"businesses": [{}] * 1001}],
)
async def test_a_scenario_not_shaped_as_businesses_is_refused(client: TestClient, payload: Any) -> None:
    status, body = await install(client, await session_of(client, "shapeless"), {"treasure": payload})
    assert status == 422 and body["violations"][0]["message"].startswith("treasure")


async def test_export_gives_back_what_was_installed_and_loads_the_same_world(client: TestClient) -> None:
    first, second = await session_of(client, "saved"), await session_of(client, "loaded")
    scenario = {"treasure": {"businesses": [SHAPED, {**SHAPED, "business_id": DOCUMENT_BUSINESS, "client_id": "mock-treasure-client"}]}}
    await install(client, first, scenario)
    exported = await (await client.get(f"{first}/__mock/scenarios")).json()
    assert exported == scenario
    assert (await install(client, second, exported))[0] == 201
    for business in (BUSINESS, DOCUMENT_BUSINESS):
        assert await history_of(client, second, business) == await history_of(client, first, business)


async def test_a_sessions_scenario_stays_in_that_session(client: TestClient) -> None:
    shaped, other = await session_of(client, "shaped"), await session_of(client, "other")
    document = {"start_date": "2022-01-01", "end_date": "2023-02-01"}
    generated = await history_of(client, "", DOCUMENT_BUSINESS, **document)
    reshaped = {**SHAPED, "business_id": DOCUMENT_BUSINESS, "opening_date": "2022-01-01"}
    reshaped["allocations"] = [{"date": "2022-01-01", "products": [{"product": "managed_income", "percentage": 100}]}]
    reshaped["contributions"] = [{"date": "2022-01-01", "amount": 5}]
    await install(client, shaped, {"treasure": {"businesses": [SHAPED, reshaped]}})
    assert (await history_of(client, shaped, DOCUMENT_BUSINESS, **document))[1]["history"][0]["portfolio"]["total_value"] == 5
    for prefix in ("", other):
        assert await history_of(client, prefix, DOCUMENT_BUSINESS, **document) == generated  # the reference's example, still
        status, body = await history_of(client, prefix)
        assert status == 404 and body["details"][0]["reason_code"] == "NOT_FOUND"
        assert await (await client.get(f"{prefix}/__mock/scenarios")).json() == {}
