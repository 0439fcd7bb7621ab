"""Omniex Edge: signatures checked for real, the reference's rules, per-key portfolios."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from mockserver.appkeys import APIS
from mockserver.lru import SizedLru

from .helpers import BASE, MASTER_ID, SPEC, assert_error, get, signed


def documented_example(path: str) -> dict[str, Any]:
    return SPEC["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["examples"]["master-fund"]["value"]


MASTER_FUND = documented_example("/portfolios/{id}")


async def test_list_portfolios_with_a_valid_signature(client: Any) -> None:
    status, body = await get(client, f"{BASE}/portfolios")
    assert status == 200
    assert body["meta"] == {}
    assert body["data"][0]["id"] == MASTER_ID
    assert len(body["data"]) >= 3
    assert all("integrations" not in p for p in body["data"])


async def test_signature_over_the_unprefixed_path_is_accepted(client: Any) -> None:
    target = f"{BASE}/portfolios"
    status, _ = await get(client, target, sign_path="/edge/v1beta/portfolios")
    assert status == 200


async def test_signature_over_another_path_is_rejected(client: Any) -> None:
    status, body = await get(client, f"{BASE}/portfolios", sign_path="/edge/v1beta/portfolio")
    assert_error(status, body, 401, "AUTHENTICATION_FAILED")
    assert "ONX-API-SIGNATURE" in body["errors"][0]["message"]


async def test_master_fund_detail_is_the_documented_example(client: Any) -> None:
    status, body = await get(client, f"{BASE}/portfolios/{MASTER_ID}?include=integrations")
    assert status == 200
    assert body == MASTER_FUND


async def test_master_fund_in_the_list_matches_the_reference_list_example(client: Any) -> None:
    status, body = await get(client, f"{BASE}/portfolios?id={MASTER_ID}&include=integrations")
    assert status == 200
    assert body == documented_example("/portfolios")


async def test_list_and_detail_agree(client: Any) -> None:
    _, listing = await get(client, f"{BASE}/portfolios?include=integrations")
    for portfolio in listing["data"]:
        status, detail = await get(client, f"{BASE}/portfolios/{portfolio['id']}?include=integrations")
        assert status == 200
        assert detail["data"] == portfolio


async def test_include_integrations_expands_them(client: Any) -> None:
    _, plain = await get(client, f"{BASE}/portfolios/{MASTER_ID}")
    _, expanded = await get(client, f"{BASE}/portfolios/{MASTER_ID}?include=integrations")
    assert "integrations" not in plain["data"]
    assert [i["venueId"] for i in expanded["data"]["integrations"]] == ["binance", "gdax", "gemini", "itbit"]
    assert {k: v for k, v in expanded["data"].items() if k != "integrations"} == plain["data"]


@pytest.mark.parametrize("target", [f"{BASE}/portfolios?include=positions", f"{BASE}/portfolios/{MASTER_ID}?include=all"])
async def test_other_include_values_are_parameter_value_invalid(client: Any, target: str) -> None:
    status, body = await get(client, target)
    assert_error(status, body, 400, "PARAMETER_VALUE_INVALID")
    assert "include" in body["errors"][0]["message"]


@pytest.mark.parametrize("target", [f"{BASE}/portfolios?limit=5", f"{BASE}/portfolios/{MASTER_ID}?id={MASTER_ID}"])
async def test_undefined_query_parameters_are_unsupported(client: Any, target: str) -> None:
    status, body = await get(client, target)
    assert_error(status, body, 400, "PARAMETER_UNSUPPORTED")


async def test_id_list_selects_those_portfolios(client: Any) -> None:
    _, listing = await get(client, f"{BASE}/portfolios")
    ids = [p["id"] for p in listing["data"]]
    status, body = await get(client, f"{BASE}/portfolios?id={ids[2]},{ids[0]}")
    assert status == 200
    assert [p["id"] for p in body["data"]] == [ids[0], ids[2]]


@pytest.mark.parametrize(
    "ids",
    ["not-a-uuid", "6b372483-a80f-4c32-8d23-e6b9397ee6d7", "", ",,,"],
    ids=["malformed", "unknown", "empty", "only-commas"],
)
async def test_invalid_or_unknown_ids_give_an_empty_list(client: Any, ids: str) -> None:
    status, body = await get(client, f"{BASE}/portfolios?id={ids}")
    assert status == 200
    assert body == {"data": [], "meta": {}}


async def test_a_valid_id_among_invalid_ones_is_kept(client: Any) -> None:
    status, body = await get(client, f"{BASE}/portfolios?id=junk,{MASTER_ID.upper()}")
    assert status == 200
    assert [p["id"] for p in body["data"]] == [MASTER_ID]


async def test_detail_with_a_non_uuid_is_parameter_value_invalid(client: Any) -> None:
    status, body = await get(client, f"{BASE}/portfolios/master-fund-1")
    assert_error(status, body, 400, "PARAMETER_VALUE_INVALID")


async def test_detail_of_an_unknown_id_is_resource_not_found(client: Any) -> None:
    status, body = await get(client, f"{BASE}/portfolios/6b372483-a80f-4c32-8d23-e6b9397ee6d7")
    assert_error(status, body, 404, "RESOURCE_NOT_FOUND")


TWO_KEYS = {
    "omniex": [
        {"key": "key-a", "secret": "secret-a"},
        {"key": "key-b", "secret": "secret-b"},
        {"key": "key-c", "secret": "secret-c", "forbidden": True},
    ]
}


async def test_each_key_sees_only_its_own_portfolios(make_client: Any) -> None:
    client = await make_client(credentials=TWO_KEYS)
    _, a = await get(client, f"{BASE}/portfolios", key="key-a", secret="secret-a")
    _, b = await get(client, f"{BASE}/portfolios", key="key-b", secret="secret-b")
    a_ids, b_ids = {p["id"] for p in a["data"]}, {p["id"] for p in b["data"]}
    assert a_ids and b_ids and not a_ids & b_ids
    foreign = next(iter(b_ids))
    status, body = await get(client, f"{BASE}/portfolios?id={foreign}", key="key-a", secret="secret-a")
    assert (status, body["data"]) == (200, [])
    status, body = await get(client, f"{BASE}/portfolios/{foreign}", key="key-a", secret="secret-a")
    assert_error(status, body, 404, "RESOURCE_NOT_FOUND")
    status, body = await get(client, f"{BASE}/portfolios", key="mock-onx-key")
    assert_error(status, body, 401, "AUTHENTICATION_FAILED")  # configured keys replace the sandbox key


async def test_a_forbidden_key_is_access_denied(make_client: Any) -> None:
    client = await make_client(credentials=TWO_KEYS)
    status, body = await get(client, f"{BASE}/portfolios", key="key-c", secret="secret-c")
    assert_error(status, body, 401, "ACCESS_DENIED")


async def test_portfolios_are_deterministic_and_consistent(make_client: Any) -> None:
    one, two = await make_client(), await make_client()
    _, first = await get(one, f"{BASE}/portfolios?include=integrations")
    _, second = await get(two, f"{BASE}/portfolios?include=integrations")
    assert first == second
    for portfolio in first["data"]:
        verified = {i["venueId"] for i in portfolio["integrations"] if i["integrationStatus"] == "verified"}
        for position in portfolio["positions"]:
            assert position["isCustomAsset"] is False
            for account in position["accounts"]:
                assert account["venueId"] in verified  # accounts only on verified integrations
                for kind, amounts in account["balance"].items():
                    assert kind in {"trading", "margin", "staking", "custody"}
                    for value in amounts.values():
                        assert float(value) >= 0 and "." in value and "e" not in value.lower()


@pytest.mark.parametrize("missing", ["ONX-API-KEY", "ONX-API-TIMESTAMP", "ONX-API-SIGNATURE"])
async def test_a_missing_header_is_named(client: Any, missing: str) -> None:
    target = f"{BASE}/portfolios"
    headers = signed("GET", target)
    del headers[missing]
    response = await client.get(target, headers=headers)
    body = await response.json()
    assert_error(response.status, body, 401, "AUTHENTICATION_FAILED")
    assert missing in body["errors"][0]["message"]


async def test_unknown_key_is_authentication_failed(client: Any) -> None:
    status, body = await get(client, f"{BASE}/portfolios", key="fI7xlbw7e2")
    assert_error(status, body, 401, "AUTHENTICATION_FAILED")
    assert "ONX-API-KEY" in body["errors"][0]["message"]


async def test_wrong_secret_is_authentication_failed_and_not_echoed(client: Any) -> None:
    target = f"{BASE}/portfolios"
    headers = signed("GET", target, secret="not-the-secret")
    response = await client.get(target, headers=headers)
    text = await response.text()
    assert response.status == 401
    assert headers["ONX-API-SIGNATURE"] not in text and "mock-onx-secret" not in text


async def test_the_reference_sample_signature_is_rejected(client: Any) -> None:
    """The reference prints 64 hex characters: too short for SHA-384, so never valid."""
    headers = {"ONX-API-KEY": "mock-onx-key", "ONX-API-TIMESTAMP": str(int(time.time() * 1000))}
    headers["ONX-API-SIGNATURE"] = "3181a3c21da8a5bb952076cc3655cc17de3d63efa790282c3625d21fee52db4a"
    response = await client.get(f"{BASE}/portfolios", headers=headers)
    assert response.status == 401


async def test_uppercase_hex_is_rejected(client: Any) -> None:
    target = f"{BASE}/portfolios"
    headers = signed("GET", target)
    headers["ONX-API-SIGNATURE"] = headers["ONX-API-SIGNATURE"].upper()
    assert (await client.get(target, headers=headers)).status == 401


@pytest.mark.parametrize("shift_seconds", [-31, 31, -3600, 86400])
async def test_timestamp_outside_the_window_is_timestamp_invalid(client: Any, shift_seconds: int) -> None:
    timestamp = str(int((time.time() + shift_seconds) * 1000))
    status, body = await get(client, f"{BASE}/portfolios", timestamp=timestamp)
    assert_error(status, body, 400, "TIMESTAMP_INVALID")


@pytest.mark.parametrize("shift_seconds", [-25, 25])
async def test_timestamp_inside_the_window_is_accepted(client: Any, shift_seconds: int) -> None:
    timestamp = str(int((time.time() + shift_seconds) * 1000))
    status, _ = await get(client, f"{BASE}/portfolios", timestamp=timestamp)
    assert status == 200


@pytest.mark.parametrize("timestamp", ["soon", "1.5e12", "-1606940938725", "١٦٠٦٩٤٠٩٣٨٧٢٥", "9" * 20, "1" * 4301, "0" * 5000])
async def test_malformed_timestamp_is_timestamp_invalid(client: Any, timestamp: str) -> None:
    target = f"{BASE}/portfolios"
    response = await client.get(target, headers=signed("GET", target, timestamp=timestamp))
    assert_error(response.status, await response.json(), 400, "TIMESTAMP_INVALID")


async def test_the_window_is_a_setting(make_client: Any) -> None:
    client = await make_client(signature_window_seconds=600)
    timestamp = str(int((time.time() - 300) * 1000))
    status, _ = await get(client, f"{BASE}/portfolios", timestamp=timestamp)
    assert status == 200


async def test_signature_covers_the_method(client: Any) -> None:
    target = f"{BASE}/portfolios"
    response = await client.get(target, headers=signed("POST", target))
    assert response.status == 401


async def test_replayed_request_with_a_changed_timestamp_fails(client: Any) -> None:
    target = f"{BASE}/portfolios"
    headers = signed("GET", target)
    headers["ONX-API-TIMESTAMP"] = str(int(headers["ONX-API-TIMESTAMP"]) + 1)
    assert (await client.get(target, headers=headers)).status == 401


async def test_unsupported_method_is_method_unsupported(client: Any) -> None:
    target = f"{BASE}/portfolios"
    response = await client.post(target, headers=signed("POST", target))
    body = await response.json()
    assert_error(response.status, body, 405, "METHOD_UNSUPPORTED")
    assert response.headers["Allow"] == "GET"


async def test_unknown_path_is_resource_not_found(client: Any) -> None:
    target = f"{BASE}/accounts"
    response = await client.get(target, headers=signed("GET", target))
    assert_error(response.status, await response.json(), 404, "RESOURCE_NOT_FOUND")


async def test_prefer_code_uses_the_documented_examples(client: Any) -> None:
    target = f"{BASE}/portfolios"
    response = await client.get(target, headers={**signed("GET", target), "Prefer": "example=timestamp-invalid, code=400"})
    assert_error(response.status, await response.json(), 400, "TIMESTAMP_INVALID")


# --- the caches belong to the app ------------------------------------------------------------------


def omniex_caches(client: Any) -> dict[str, SizedLru[Any, Any]]:
    """The Omniex caches of the world the client's app loaded."""
    (world,) = {id(api.world): api.world for api in client.app[APIS] if hasattr(api, "world")}.values()
    return {name: cache for name, cache in world.caches if name.startswith("omniex.")}


async def test_two_apps_do_not_share_their_omniex_caches(make_client: Any) -> None:
    first, second = await make_client(), await make_client()
    for include in ("", "?include=integrations"):
        assert (await get(first, f"{BASE}/portfolios{include}"))[0] == 200
    assert {name: len(cache) for name, cache in omniex_caches(first).items()} == {
        "omniex.keyed": 1,
        "omniex.books": 1,
        "omniex.listings": 2,
    }
    assert omniex_caches(second) == {}  # the second app worked nothing out yet, and finds nothing of the first's
    assert (await get(second, f"{BASE}/portfolios/{MASTER_ID}"))[0] == 200
    assert len(omniex_caches(second)["omniex.books"]) == 1
    assert omniex_caches(second)["omniex.books"] is not omniex_caches(first)["omniex.books"]


async def test_the_omniex_caches_hold_at_most_their_bytes(make_client: Any) -> None:
    """Keys whose fixed portfolios are large: the books and listings kept stay within their byte bounds."""
    big = {**MASTER_FUND, "name": "n" * 250_000}  # a book of about 1.5 MB in memory, a listing of 250 KB
    keys = [
        {"key": f"key-{n}", "secret": f"secret-{n}", "portfolios": [{**big, "id": f"{n:08d}-0000-4000-8000-000000000000"}]}
        for n in range(20)
    ]
    client = await make_client(credentials={"omniex": keys})
    for n in range(20):
        status, body = await get(client, f"{BASE}/portfolios", key=f"key-{n}", secret=f"secret-{n}")
        assert status == 200 and body["data"][0]["name"] == big["name"]
    caches = omniex_caches(client)
    assert len(caches["omniex.keyed"]) == 20  # each key's HMAC, small
    for name in ("omniex.books", "omniex.listings"):  # 20 books would weigh 30 MB and 20 listings 5 MB
        assert 1 <= len(caches[name]) < 20  # some kept, the oldest dropped
    for cache in caches.values():
        assert cache._total == sum(cache._size_of(key, entry) for key, entry in cache._items.items()) <= cache.size
    book = next(iter(caches["omniex.books"]._items.values()))[1]
    assert caches["omniex.books"]._size_of(None, (None, book)) >= 5 * len(orjson.dumps(book))  # weighed as parsed, not as text
