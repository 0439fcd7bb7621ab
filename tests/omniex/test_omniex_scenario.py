"""Omniex scenarios over HTTP: a key's portfolios shaped through /__mock/scenarios and answered by
GET /portfolios and /portfolios/{id} exactly as given, checked with every problem listed, exported
as installed, and kept to their session."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from ..helpers import JSON, PROBLEM, InSession, control, open_session
from .helpers import BASE, MASTER_ID, assert_error, get

KEY = "mock-onx-key"
FROZEN = "2026-03-02T09:30:00Z"
ALPHA_ID = "6f1c2a9e-3b7d-4e8a-9c5f-0d2e4b6a8c1e"
ALPHA = {
    "id": ALPHA_ID,
    "name": "Alpha Fund",
    "integrations": [
        {"id": "0b5e7c1d-2f3a-4b6c-8d9e-1a2b3c4d5e6f", "venueId": "binance"},
        {"id": "1c6f8d2e-3a4b-4c7d-9e0f-2b3c4d5e6f70", "venueId": "bitgo", "integrationStatus": "verified"},
        {"id": "2d708e3f-4b5c-4d8e-8f10-3c4d5e6f7081", "venueId": "kraken", "integrationStatus": "requested"},
    ],
    "positions": [
        {
            "assetId": "BTC",
            "accounts": [
                {"venueId": "binance", "balance": {"trading": {"free": "1.5", "locked": 0.25}, "margin": {"locked": "0.1"}}},
                {"venueId": "bitgo", "balance": {"custody": {"free": 10, "locked": "0"}}},
            ],
        },
        {
            "assetId": "ETH",
            "accounts": [
                {
                    "venueId": "binance",
                    "name": "Desk ETH",
                    "balance": {"trading": {"free": "0.12345678", "locked": 1e-8}, "staking": {"locked": "32"}},
                },
            ],
        },
    ],
    "createdAt": "2024-01-15T08:00:00+01:00",
}
BETA = {
    "name": "Beta Fund",
    "positions": [
        {
            "assetId": "MYTOKEN",
            "isCustomAsset": True,
            "accounts": [
                {"venueId": "gdax", "balance": {"trading": {"free": "7", "locked": "3"}}},
                {"venueId": "gemini", "balance": {"trading": {"free": "0.5", "locked": "0"}}},
            ],
        }
    ],
}
SCENARIO = {"omniex": {"keys": [{"key": KEY, "portfolios": [ALPHA, BETA]}]}}
# ALPHA as Omniex answers it: decimals as the reference writes them, default names, instants in UTC
ALPHA_ANSWER = {
    "id": ALPHA_ID,
    "resource": "portfolio",
    "name": "Alpha Fund",
    "integrations": [
        {"id": "0b5e7c1d-2f3a-4b6c-8d9e-1a2b3c4d5e6f", "venueId": "binance", "integrationStatus": "verified"},
        {"id": "1c6f8d2e-3a4b-4c7d-9e0f-2b3c4d5e6f70", "venueId": "bitgo", "integrationStatus": "verified"},
        {"id": "2d708e3f-4b5c-4d8e-8f10-3c4d5e6f7081", "venueId": "kraken", "integrationStatus": "requested"},
    ],
    "positions": [
        {
            "assetId": "BTC",
            "isCustomAsset": False,
            "accounts": [
                {
                    "venueId": "binance",
                    "name": "Binance BTC Account",
                    "balance": {"trading": {"free": "1.5", "locked": "0.25"}, "margin": {"locked": "0.1"}},
                },
                {"venueId": "bitgo", "name": "BitGo BTC Custody Account", "balance": {"custody": {"free": "10.0", "locked": "0.0"}}},
            ],
        },
        {
            "assetId": "ETH",
            "isCustomAsset": False,
            "accounts": [
                {
                    "venueId": "binance",
                    "name": "Desk ETH",
                    "balance": {"trading": {"free": "0.12345678", "locked": "0.00000001"}, "staking": {"locked": "32.0"}},
                },
            ],
        },
    ],
    "createdAt": "2024-01-15T07:00:00.000Z",
    "updatedAt": "2026-03-02T09:30:00.000Z",  # not given: the session clock's now
}


async def shaped_session(client: TestClient, scenario: Any = SCENARIO) -> InSession:
    """A session frozen at FROZEN, with `scenario` installed."""
    sandbox = await open_session(client, clock={"now": FROZEN, "frozen": True})
    assert await post_scenario(sandbox, scenario) == {"installed": list(scenario)}
    return sandbox


async def post_scenario(sandbox: InSession | TestClient, scenario: Any, status: int = 201) -> Any:
    response = await sandbox.post("/__mock/scenarios", json=scenario, headers=JSON)
    assert response.status == status, await response.text()
    return await response.json()


async def listing(sandbox: InSession | TestClient, query: str = "?include=integrations") -> list[dict[str, Any]]:
    status, body = await get(sandbox, f"{BASE}/portfolios{query}")
    assert status == 200, body
    assert body["meta"] == {}
    return list(body["data"])


async def test_a_shaped_key_answers_its_portfolios_as_given(client: TestClient) -> None:
    sandbox = await shaped_session(client)
    alpha, beta = await listing(sandbox)
    assert alpha == ALPHA_ANSWER
    assert uuid.UUID(beta["id"]).version == 4
    assert beta["integrations"] == [  # the venues its accounts use, verified
        {"id": beta["integrations"][0]["id"], "venueId": "gdax", "integrationStatus": "verified"},
        {"id": beta["integrations"][1]["id"], "venueId": "gemini", "integrationStatus": "verified"},
    ]
    assert beta["positions"] == [
        {
            "assetId": "MYTOKEN",
            "isCustomAsset": True,
            "accounts": [
                {"venueId": "gdax", "name": "Coinbase Pro MYTOKEN Account", "balance": {"trading": {"free": "7.0", "locked": "3.0"}}},
                {"venueId": "gemini", "name": "Gemini MYTOKEN Account", "balance": {"trading": {"free": "0.5", "locked": "0.0"}}},
            ],
        }
    ]
    assert beta["createdAt"] == beta["updatedAt"] == "2026-03-02T09:30:00.000Z"
    assert [p["id"] for p in await listing(sandbox, "")] == [ALPHA_ID, beta["id"]]
    assert all("integrations" not in p for p in await listing(sandbox, ""))


async def test_detail_and_filter_agree_with_the_listing(client: TestClient) -> None:
    sandbox = await shaped_session(client)
    portfolios = await listing(sandbox)
    for portfolio in portfolios:
        status, detail = await get(sandbox, f"{BASE}/portfolios/{portfolio['id'].upper()}?include=integrations")
        assert status == 200 and detail == {"data": portfolio, "meta": {}}
    assert await listing(sandbox, f"?id={portfolios[1]['id']},{MASTER_ID}&include=integrations") == portfolios[1:]
    status, body = await get(sandbox, f"{BASE}/portfolios/{MASTER_ID}")  # the key's fixed portfolio is replaced
    assert_error(status, body, 404, "RESOURCE_NOT_FOUND")


async def test_derived_ids_are_stable_and_times_follow_the_session_clock(client: TestClient) -> None:
    sandbox = await shaped_session(client)
    before = await listing(sandbox)
    await control(sandbox, "POST", "/clock/advance", {"days": 1})
    after = await listing(sandbox)
    assert [p["updatedAt"] for p in after] == ["2026-03-03T09:30:00.000Z"] * 2
    assert after[1]["createdAt"] == "2026-03-03T09:30:00.000Z"  # not given: the updated instant
    assert after[0]["createdAt"] == before[0]["createdAt"] == "2024-01-15T07:00:00.000Z"
    for portfolio in (*before, *after):
        portfolio.pop("createdAt"), portfolio.pop("updatedAt")
    assert before == after
    other = await shaped_session(client)  # the same scenario elsewhere: the same ids (seed, key and place)
    assert [p["id"] for p in await listing(other)] == [p["id"] for p in before]


async def test_an_answer_given_back_is_the_same_world(client: TestClient) -> None:
    generated = await listing(await open_session(client))
    assert len(generated) >= 3
    sandbox = await shaped_session(client, {"omniex": {"keys": [{"key": KEY, "portfolios": generated}]}})
    assert await listing(sandbox) == generated


async def test_a_key_given_no_portfolios_sees_none(client: TestClient) -> None:
    sandbox = await shaped_session(client, {"omniex": {"keys": [{"key": KEY, "portfolios": []}]}})
    assert await listing(sandbox) == []
    status, body = await get(sandbox, f"{BASE}/portfolios/{MASTER_ID}")
    assert_error(status, body, 404, "RESOURCE_NOT_FOUND")


async def test_a_key_no_scenario_names_keeps_its_generated_portfolios(client: TestClient) -> None:
    generated = await listing(client)
    other_key = copy.deepcopy(SCENARIO)
    other_key["omniex"]["keys"][0]["key"] = "another-onx-key"
    await post_scenario(client, other_key)
    assert await listing(client) == generated


async def test_a_later_scenario_adds_keys_and_replaces_a_key_it_names_again(client: TestClient) -> None:
    sandbox = await shaped_session(client, {"omniex": {"keys": [{"key": "another-onx-key", "portfolios": [BETA]}]}})
    await post_scenario(sandbox, {"omniex": {"keys": [{"key": KEY, "portfolios": [BETA]}]}})
    await post_scenario(sandbox, SCENARIO)
    assert await control(sandbox, "GET", "/scenarios") == {
        "omniex": {"keys": [{"key": "another-onx-key", "portfolios": [BETA]}, {"key": KEY, "portfolios": [ALPHA, BETA]}]}
    }
    assert [p["name"] for p in await listing(sandbox)] == ["Alpha Fund", "Beta Fund"]


async def test_export_gives_what_was_installed_and_loads_the_same_world(client: TestClient) -> None:
    sandbox = await shaped_session(client)
    exported = await control(sandbox, "GET", "/scenarios")
    assert exported == SCENARIO
    again = await shaped_session(client, exported)
    assert await listing(again) == await listing(sandbox)


async def test_a_scenario_stays_in_its_session(client: TestClient) -> None:
    generated = await listing(client)
    sandbox = await shaped_session(client)
    neighbour = await open_session(client)
    assert await listing(neighbour) == generated
    assert await listing(client) == generated
    assert await control(neighbour, "GET", "/scenarios") == {}
    assert await control(client, "GET", "/scenarios") == {}
    await post_scenario(client, {"omniex": {"keys": [{"key": KEY, "portfolios": []}]}})  # the default session's own
    assert await listing(client) == []
    assert await listing(neighbour) == generated
    assert (await listing(sandbox))[0]["id"] == ALPHA_ID


async def test_an_invalid_scenario_is_refused_with_every_problem(client: TestClient) -> None:
    sandbox = await open_session(client)
    where = "omniex.keys[0].portfolios[0]"
    invalid = {
        "omniex": {
            "keys": [
                {
                    "key": "",
                    "portfolios": [
                        {
                            "resource": "fund",
                            "id": "not-a-uuid",
                            "colour": "red",
                            "createdAt": "yesterday",
                            "integrations": [
                                {"venueId": "ftx"},
                                {"venueId": "binance", "integrationStatus": "pending"},
                                {"venueId": "binance"},
                            ],
                            "positions": [
                                {
                                    "assetId": "BTC",
                                    "accounts": [
                                        {"venueId": "gemini", "balance": {"trading": {"free": "-1", "locked": 0.30000000000000004}}},
                                        {"venueId": "binance", "balance": {"custody": {"free": "1", "locked": "0"}, "loan": {}}},
                                    ],
                                },
                                {
                                    "assetId": "BTC",
                                    "isCustomAsset": "no",
                                    "accounts": [{"venueId": "bitgo", "balance": {"trading": {"free": "1"}}}],
                                },
                            ],
                        }
                    ],
                },
                {"key": KEY, "portfolios": "none"},
                {
                    "key": KEY,
                    "portfolios": [
                        {"name": "Late", "createdAt": "2024-02-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z", "positions": []}
                    ],
                },
            ]
        }
    }
    response = await sandbox.post("/__mock/scenarios", json=invalid, headers=JSON)
    assert response.status == 422
    assert response.headers["Content-Type"] == PROBLEM
    body = await response.json()
    messages = [violation["message"] for violation in body["violations"]]
    decimal = 'a decimal of 0 or more, below 10^15, with at most 8 places ("1.009" or 1.009)'
    assert messages == [
        "omniex.keys[0].key: an ONX-API-KEY, a string of 1 to 200 characters",
        f"{where}.colour: unknown member (known: id, resource, name, integrations, positions, createdAt, updatedAt)",
        f"{where}.resource: portfolio (or left out)",
        f"{where}.name: a string of 1 to 200 characters",
        f"{where}.id: a UUID, such as 6b372483-a80f-4c32-8d23-e6b9397ee6d6",
        f"{where}.createdAt: a date-time with its offset, such as 2024-05-01T12:00:00Z",
        f"{where}.integrations[0].venueId: one of binance, gdax, gemini, itbit, kraken, bitstamp, bitgo",
        f"{where}.integrations[1].integrationStatus: one of verified, requested",
        f"{where}.integrations[2].venueId: binance is listed twice",
        f"{where}.positions[0].accounts[0].venueId: gemini is not one of the portfolio's verified integrations (binance)",
        f"{where}.positions[0].accounts[0].balance.trading.free: {decimal}",
        f"{where}.positions[0].accounts[0].balance.trading.locked: {decimal}",
        f"{where}.positions[0].accounts[1].balance.custody: custody balances are held at bitgo, the others at an exchange",
        f"{where}.positions[0].accounts[1].balance.loan: unknown balance (known: trading, margin, staking, custody)",
        f"{where}.positions[1].assetId: BTC is listed twice",
        f"{where}.positions[1].isCustomAsset: true or false",
        f"{where}.positions[1].accounts[0].venueId: bitgo is not one of the portfolio's verified integrations (binance)",
        f"{where}.positions[1].accounts[0].balance.trading: custody balances are held at bitgo, the others at an exchange",
        f"{where}.positions[1].accounts[0].balance.trading: an object of free, locked",
        "omniex.keys[1].portfolios: a list of at most 20 portfolios",
        "omniex.keys[2].key: mock-onx-key is listed twice",
        "omniex.keys[2].portfolios[0].updatedAt: not before createdAt",
    ]
    assert body["detail"] == f"the scenario was not installed: {len(messages)} problems"
    assert {violation["name"] for violation in body["violations"]} >= {"omniex.keys[2].key", f"{where}.id"}
    assert await control(sandbox, "GET", "/scenarios") == {}  # nothing of it was installed
    assert len(await listing(sandbox)) >= 3


async def test_sizes_are_bounded(client: TestClient) -> None:
    too_many = {"omniex": {"keys": [{"key": f"key-{index}", "portfolios": []} for index in range(101)]}}
    assert (await post_scenario(client, too_many, 422))["violations"][0]["message"] == "omniex.keys: at most 100"
    long_texts = {
        "omniex": {"keys": [{"key": "k" * 201, "portfolios": [{"name": "n" * 201, "positions": [{"assetId": "A" * 21, "accounts": []}]}]}]}
    }
    assert [v["name"] for v in (await post_scenario(client, long_texts, 422))["violations"]] == [
        "omniex.keys[0].key",
        "omniex.keys[0].portfolios[0].name",
        "omniex.keys[0].portfolios[0].positions[0].assetId",
    ]
    assert [v["message"] for v in (await post_scenario(client, {"omniex": []}, 422))["violations"]] == ['omniex: {"keys": [...]}']
