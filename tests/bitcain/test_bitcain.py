"""bitcain over HTTP: portfolio lifecycle, FastAPI's error envelopes, paging and ownership, auth."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mockserver.vendors.bitcain.portfolios import new_portfolio_id

from ..helpers import ROOT
from .helpers import AUTH, BASE, CORE, NEW, SANDBOX_USER, SATELLITE, create, listed

PORTFOLIO_KEYS = {
    "portfolio_id",
    "user_id",
    "name",
    "description",
    "total_value_usd",
    "target_allocations",
    "current_allocations",
    "last_rebalanced_at",
    "is_active",
    "created_at",
    "updated_at",
    "risk_tolerance",
    "status",
    "is_default",
    "total_return",
    "total_return_percentage",
    "tags",
}


async def errors(response: Any, status: int = 422) -> Any:
    payload = await response.json()
    assert response.status == status, payload
    assert response.content_type == "application/json"
    return payload["detail"]


# --- lifecycle -------------------------------------------------------------------------------


async def test_full_lifecycle_create_get_update_list_delete(client: Any) -> None:
    created = await create(client)
    assert set(created) == PORTFOLIO_KEYS
    portfolio_id = created["portfolio_id"]
    assert created["user_id"] == "alice" and created["name"] == "Growth" and created["status"] == "created"
    assert created["risk_tolerance"] == "moderate" and created["is_active"] is True and created["is_default"] is False
    assert created["description"] is None and created["tags"] == [] and created["last_rebalanced_at"] is None
    assert created["created_at"] == created["updated_at"] == "2026-01-15T15:00:00Z"
    # bought at today's prices: worth what was paid, to a cent per asset (quantities are cut to 8 decimals)
    assert abs(float(created["total_value_usd"]) - 10000) <= 0.03
    assert sum(created["current_allocations"].values()) == pytest.approx(1.0)

    got = await client.get(f"{BASE}/{portfolio_id}", params={"user_id": "alice"})
    assert got.status == 200 and await got.json() == created

    update = {"name": "Growth II", "description": "more ether", "tags": ["x"], "risk_tolerance": "aggressive"}
    response = await client.put(f"{BASE}/{portfolio_id}", params={"user_id": "alice"}, json=update, headers=AUTH)
    updated = await response.json()
    assert response.status == 200, updated
    assert {key: updated[key] for key in update} == update
    assert updated["target_allocations"] == created["target_allocations"] and updated["created_at"] == created["created_at"]

    page, _ = await listed(client, user_id="alice")
    assert page == [updated]

    response = await client.delete(f"{BASE}/{portfolio_id}", params={"user_id": "alice", "force": "true"}, headers=AUTH)
    assert response.status == 204 and await response.read() == b""
    assert (await client.get(f"{BASE}/{portfolio_id}")).status == 404
    assert await errors(await client.get(f"{BASE}/{portfolio_id}"), 404) == "Portfolio not found"
    assert (await listed(client, user_id="alice"))[0] == []


async def test_the_seeded_portfolios_belong_to_the_sandbox_user(client: Any) -> None:
    active, response = await listed(client, user_id=SANDBOX_USER)
    assert [p["portfolio_id"] for p in active] == [CORE] and response.headers["X-Total-Count"] == "1"
    everything, response = await listed(client, user_id=SANDBOX_USER, active_only=False)
    assert [p["portfolio_id"] for p in everything] == [CORE, SATELLITE] and response.headers["X-Total-Count"] == "2"
    core, satellite = everything
    assert core["is_default"] and core["status"] == "active" and core["target_allocations"] == {"BTC": 0.6, "ETH": 0.3, "USDC": 0.1}
    assert not satellite["is_active"] and satellite["status"] == "paused"


async def test_portfolio_ids_are_the_same_for_the_same_requests(client: Any, make_client: Any) -> None:
    first = await create(client, "bob")
    second = await create(client, "bob", {**NEW, "name": "Second"})
    assert first["portfolio_id"] == new_portfolio_id(0, "bob", 1) and second["portfolio_id"] == new_portfolio_id(0, "bob", 2)
    other = await make_client(specs=[ROOT / "specs"])
    assert (await create(other, "bob"))["portfolio_id"] == first["portfolio_id"]
    reseeded = await make_client(specs=[ROOT / "specs"], seed=7)
    assert (await create(reseeded, "bob"))["portfolio_id"] != first["portfolio_id"]


async def test_values_follow_the_positions_and_prices(client: Any) -> None:
    created = await create(client, body={**NEW, "initial_value_usd": 2500.5})
    analytics = await (await client.get(f"{BASE}/{created['portfolio_id']}/analytics", params={"user_id": "alice"})).json()
    positions = analytics["positions"]
    assert [p["asset"] for p in positions] == ["BTC", "ETH", "SOL"]
    for position in positions:
        assert Decimal(position["value_usd"]) == (Decimal(position["quantity"]) * Decimal(position["price_usd"])).quantize(Decimal("0.01"))
    assert Decimal(created["total_value_usd"]) == sum(Decimal(p["value_usd"]) for p in positions)
    assert Decimal(created["total_return"]) == Decimal(created["total_value_usd"]) - Decimal("2500.50")


async def test_unfunded_portfolio_holds_nothing_and_deletes_without_force(client: Any) -> None:
    created = await create(client, body={"name": "Empty", "target_allocations": {"USDC": 1}})
    assert created["total_value_usd"] == "0.00" and created["current_allocations"] == {"USDC": 0.0}
    assert created["total_return"] == "0.00" and created["total_return_percentage"] == "0.00"
    response = await client.delete(f"{BASE}/{created['portfolio_id']}", params={"user_id": "alice"}, headers=AUTH)
    assert response.status == 204


async def test_deleting_a_portfolio_with_assets_needs_force(client: Any) -> None:
    created = await create(client)
    url = f"{BASE}/{created['portfolio_id']}"
    message = await errors(await client.delete(url, params={"user_id": "alice"}, headers=AUTH), 409)
    assert message == "Portfolio still holds assets (BTC, ETH, SOL); pass force=true to delete it anyway"
    assert (await client.delete(url, params={"user_id": "alice", "force": "false"}, headers=AUTH)).status == 409
    assert (await client.get(url)).status == 200
    assert (await client.delete(url, params={"user_id": "alice", "force": "true"}, headers=AUTH)).status == 204
    assert (await client.delete(url, params={"user_id": "alice", "force": "true"}, headers=AUTH)).status == 404


async def test_new_targets_rebalance_an_active_portfolio(client: Any) -> None:
    created = await create(client)
    targets = {"BTC": 0.25, "ETH": 0.25, "USDC": 0.5}
    response = await client.put(
        f"{BASE}/{created['portfolio_id']}", params={"user_id": "alice"}, json={"target_allocations": targets}, headers=AUTH
    )
    updated = await response.json()
    assert updated["target_allocations"] == targets and updated["status"] == "active"
    assert updated["last_rebalanced_at"] == "2026-01-15T15:00:00Z"
    assert set(updated["current_allocations"]) == {"BTC", "ETH", "USDC"}  # SOL was sold in full
    for asset, share in updated["current_allocations"].items():
        assert share == pytest.approx(targets.get(asset, 0.0), abs=1e-3)
    assert abs(float(updated["total_value_usd"]) - float(created["total_value_usd"])) <= 0.05


async def test_pausing_and_null_members_keep_the_rest(client: Any) -> None:
    created = await create(client, body={**NEW, "description": "keep me", "tags": ["a"]})
    url = f"{BASE}/{created['portfolio_id']}"
    body = {"is_active": False, "name": None, "description": None, "tags": None, "target_allocations": None, "risk_tolerance": None}
    paused = await (await client.put(url, params={"user_id": "alice"}, json=body, headers=AUTH)).json()
    assert paused["status"] == "paused" and paused["is_active"] is False
    assert paused["name"] == "Growth" and paused["description"] == "keep me" and paused["tags"] == ["a"]
    unchanged = await (await client.put(url, params={"user_id": "alice"}, json={}, headers=AUTH)).json()
    assert unchanged == paused
    resumed = await (await client.put(url, params={"user_id": "alice"}, json={"is_active": True}, headers=AUTH)).json()
    assert resumed["status"] == "active"
    cleared = await (await client.put(url, params={"user_id": "alice"}, json={"description": ""}, headers=AUTH)).json()
    assert cleared["description"] == ""


async def test_a_new_default_portfolio_takes_the_flag(client: Any) -> None:
    first = await create(client, body={**NEW, "is_default": True})
    second = await create(client, body={**NEW, "name": "Second", "is_default": True})
    assert second["is_default"]
    page, _ = await listed(client, user_id="alice")
    assert [(p["portfolio_id"], p["is_default"]) for p in page] == [(first["portfolio_id"], False), (second["portfolio_id"], True)]


# --- conflicts --------------------------------------------------------------------------------


async def test_names_are_unique_per_user_ignoring_case(client: Any) -> None:
    await create(client)
    response = await client.post(f"{BASE}/", params={"user_id": "alice"}, json={**NEW, "name": "GROWTH"}, headers=AUTH)
    assert response.status == 409
    assert await response.json() == {"detail": "A portfolio named 'GROWTH' already exists for this user"}
    await create(client, "bob")  # another user may use the name


async def test_renaming_onto_another_portfolio_is_409_onto_itself_is_fine(client: Any) -> None:
    await create(client)
    second = await create(client, body={**NEW, "name": "Other"})
    url = f"{BASE}/{second['portfolio_id']}"
    assert await errors(await client.put(url, params={"user_id": "alice"}, json={"name": "growth"}, headers=AUTH), 409) == (
        "A portfolio named 'growth' already exists for this user"
    )
    response = await client.put(url, params={"user_id": "alice"}, json={"name": "Other"}, headers=AUTH)
    assert response.status == 200


async def test_a_deleted_portfolio_frees_its_name(client: Any) -> None:
    created = await create(client)
    await client.delete(f"{BASE}/{created['portfolio_id']}", params={"user_id": "alice", "force": "true"}, headers=AUTH)
    again = await create(client)
    assert again["portfolio_id"] != created["portfolio_id"]


# --- ownership --------------------------------------------------------------------------------


async def test_only_the_owning_user_sees_or_changes_a_portfolio(client: Any) -> None:
    created = await create(client)
    url = f"{BASE}/{created['portfolio_id']}"
    mallory = {"user_id": "mallory"}
    assert await errors(await client.get(url, params=mallory), 404) == "Portfolio not found"
    assert (await client.get(f"{url}/analytics", params=mallory)).status == 404
    assert (await client.put(url, params=mallory, json={"name": "mine"}, headers=AUTH)).status == 404
    assert (await client.delete(url, params={**mallory, "force": "true"}, headers=AUTH)).status == 404
    assert (await listed(client, user_id="mallory"))[0] == []
    after = await (await client.get(url, params={"user_id": "alice"})).json()
    assert after == created


async def test_get_without_user_id_checks_no_ownership(client: Any) -> None:
    assert (await client.get(f"{BASE}/{CORE}")).status == 200
    assert (await client.get(f"{BASE}/{CORE}", params={"user_id": SANDBOX_USER})).status == 200


async def test_the_clock_ticks_in_whole_seconds(make_client: Any) -> None:
    """Values are taken at the whole second, as every timestamp is written: a read at .9 s is a
    read at .0 s, in a get and in a list alike."""
    answers = []
    for clock in ("2026-01-15T15:00:00Z", "2026-01-15T15:00:00.900Z", "2026-01-15T16:00:00Z"):
        client = await make_client(specs=[ROOT / "specs"], clock=clock)
        one = await (await client.get(f"{BASE}/{CORE}")).json()
        listing = await (await client.get(f"{BASE}/", params={"user_id": SANDBOX_USER})).json()
        assert next(item for item in listing if item["portfolio_id"] == CORE) == one
        answers.append(one)
    whole, fraction, later = answers
    assert fraction == whole
    assert later["total_value_usd"] != whole["total_value_usd"]  # a kept view is one instant's: prices move


async def test_unknown_portfolio_is_404_everywhere(client: Any) -> None:
    url = f"{BASE}/00000000-0000-4000-8000-000000000000"
    assert await errors(await client.get(url), 404) == "Portfolio not found"
    assert (await client.get(f"{url}/analytics", params={"user_id": "x"})).status == 404
    assert (await client.put(url, params={"user_id": "x"}, json={}, headers=AUTH)).status == 404
    assert (await client.delete(url, params={"user_id": "x"}, headers=AUTH)).status == 404


# --- paging -----------------------------------------------------------------------------------


async def test_list_pages_in_creation_order(client: Any) -> None:
    ids = [(await create(client, "carol", {**NEW, "name": f"P{index}"}))["portfolio_id"] for index in range(7)]
    await client.put(f"{BASE}/{ids[3]}", params={"user_id": "carol"}, json={"is_active": False}, headers=AUTH)
    page, response = await listed(client, user_id="carol", limit=2, offset=1)
    assert [p["portfolio_id"] for p in page] == ids[1:3] and response.headers["X-Total-Count"] == "6"
    page, _ = await listed(client, user_id="carol", limit=3, offset=2)
    assert [p["portfolio_id"] for p in page] == [ids[2], ids[4], ids[5]]
    page, response = await listed(client, user_id="carol", active_only=False, limit=100)
    assert [p["portfolio_id"] for p in page] == ids and response.headers["X-Total-Count"] == "7"
    page, _ = await listed(client, user_id="carol", offset=50)
    assert page == []
    first, _ = await listed(client, user_id="carol")
    again, _ = await listed(client, user_id="carol")
    assert first == again


# --- FastAPI's 422 envelope -------------------------------------------------------------------


async def test_missing_user_id_and_paging_limits(client: Any) -> None:
    response = await client.get(f"{BASE}/", params={"limit": "0", "offset": "-1", "active_only": "maybe"})
    assert await errors(response) == [
        {"type": "missing", "loc": ["query", "user_id"], "msg": "Field required", "input": None},
        {
            "type": "bool_parsing",
            "loc": ["query", "active_only"],
            "msg": "Input should be a valid boolean, unable to interpret input",
            "input": "maybe",
        },
        {
            "type": "greater_than_equal",
            "loc": ["query", "limit"],
            "msg": "Input should be greater than or equal to 1",
            "input": "0",
            "ctx": {"ge": 1},
        },
        {
            "type": "greater_than_equal",
            "loc": ["query", "offset"],
            "msg": "Input should be greater than or equal to 0",
            "input": "-1",
            "ctx": {"ge": 0},
        },
    ]


@pytest.mark.parametrize(
    ("query", "item"),
    [
        (
            {"limit": "101"},
            {
                "type": "less_than_equal",
                "loc": ["query", "limit"],
                "msg": "Input should be less than or equal to 100",
                "input": "101",
                "ctx": {"le": 100},
            },
        ),
        (
            {"limit": "ten"},
            {
                "type": "int_parsing",
                "loc": ["query", "limit"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "ten",
            },
        ),
        (
            {"limit": ""},
            {
                "type": "int_parsing",
                "loc": ["query", "limit"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "",
            },
        ),
        (
            {"offset": "1.5"},
            {
                "type": "int_parsing",
                "loc": ["query", "offset"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "1.5",
            },
        ),
    ],
)
async def test_paging_parameter_problems(client: Any, query: dict[str, str], item: dict[str, Any]) -> None:
    assert await errors(await client.get(f"{BASE}/", params={"user_id": "alice", **query})) == [item]


async def test_empty_user_id_is_a_user_like_any_other(client: Any) -> None:
    page, _ = await listed(client, user_id="")
    assert page == []


async def test_every_create_problem_is_reported_in_model_order(client: Any) -> None:
    body = {
        "description": 5,
        "target_allocations": {"BTC": 2, "ETH": -0.5},
        "risk_tolerance": "yolo",
        "initial_value_usd": "5 USD",
        "tags": "x",
        "is_active": "maybe",  # pydantic reads "yes" as true: "maybe" it refuses
        "name": "n" * 101,
    }
    response = await client.post(f"{BASE}/", json=body, headers=AUTH)
    assert await errors(response) == [
        {"type": "missing", "loc": ["query", "user_id"], "msg": "Field required", "input": None},
        {
            "type": "string_too_long",
            "loc": ["body", "name"],
            "msg": "String should have at most 100 characters",
            "input": "n" * 101,
            "ctx": {"max_length": 100},
        },
        {"type": "string_type", "loc": ["body", "description"], "msg": "Input should be a valid string", "input": 5},
        {
            "type": "less_than_equal",
            "loc": ["body", "target_allocations", "BTC"],
            "msg": "Input should be less than or equal to 1",
            "input": 2,
            "ctx": {"le": 1.0},
        },
        {
            "type": "greater_than_equal",
            "loc": ["body", "target_allocations", "ETH"],
            "msg": "Input should be greater than or equal to 0",
            "input": -0.5,
            "ctx": {"ge": 0.0},
        },
        {
            "type": "enum",
            "loc": ["body", "risk_tolerance"],
            "msg": "Input should be 'conservative', 'moderate' or 'aggressive'",
            "input": "yolo",
            "ctx": {"expected": "'conservative', 'moderate' or 'aggressive'"},
        },
        {
            "type": "bool_parsing",
            "loc": ["body", "is_active"],
            "msg": "Input should be a valid boolean, unable to interpret input",
            "input": "maybe",
        },
        {"type": "decimal_parsing", "loc": ["body", "initial_value_usd"], "msg": "Input should be a valid decimal", "input": "5 USD"},
        {"type": "list_type", "loc": ["body", "tags"], "msg": "Input should be a valid list", "input": "x"},
    ]


async def test_missing_name_and_allocations(client: Any) -> None:
    items = await errors(await client.post(f"{BASE}/", params={"user_id": "alice"}, json={"tags": []}, headers=AUTH))
    assert [(item["type"], item["loc"], item["msg"]) for item in items] == [
        ("missing", ["body", "name"], "Field required"),
        ("missing", ["body", "target_allocations"], "Field required"),
    ]
    assert all(set(item) == {"type", "loc", "msg", "input"} for item in items)


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ({"BTC": 0.5, "ETH": 0.4}, "target_allocations must sum to 1.0 (got 0.9)"),
        ({"BTC": 0.7, "ETH": 0.4}, "target_allocations must sum to 1.0 (got 1.1)"),
        ({}, "target_allocations must sum to 1.0 (got 0)"),
        ({"XRP": 1.0}, "unknown asset 'XRP'; supported: BTC, ETH, SOL, DOGE, ADA, LINK, UNI, ARB, USDC"),
    ],
)
async def test_allocations_must_sum_to_one(client: Any, targets: dict[str, float], message: str) -> None:
    response = await client.post(f"{BASE}/", params={"user_id": "alice"}, json={"name": "x", "target_allocations": targets}, headers=AUTH)
    assert await errors(response) == [
        {
            "type": "value_error",
            "loc": ["body", "target_allocations"],
            "msg": f"Value error, {message}",
            "input": targets,
            "ctx": {"error": {}},
        }
    ]
    assert (await listed(client, user_id="alice"))[0] == []


async def test_allocations_within_a_millionth_of_one_are_accepted(client: Any) -> None:
    await create(client, body={"name": "thirds", "target_allocations": {"BTC": 0.333333, "ETH": 0.333333, "SOL": 0.333334}})
    await create(client, body={"name": "close", "target_allocations": {"BTC": 0.4999995, "ETH": 0.5}})


async def test_update_applies_the_same_rules(client: Any) -> None:
    created = await create(client)
    url = f"{BASE}/{created['portfolio_id']}"
    response = await client.put(url, params={"user_id": "alice"}, json={"target_allocations": {"BTC": 0.2}}, headers=AUTH)
    assert (await errors(response))[0]["msg"] == "Value error, target_allocations must sum to 1.0 (got 0.2)"
    response = await client.put(url, json={"name": "x" * 101, "risk_tolerance": "high"}, headers=AUTH)
    assert [(item["type"], item["loc"]) for item in await errors(response)] == [
        ("missing", ["query", "user_id"]),
        ("string_too_long", ["body", "name"]),
        ("enum", ["body", "risk_tolerance"]),
    ]
    assert await (await client.get(url)).json() == created


@pytest.mark.parametrize(
    ("value", "item"),
    [
        ("abc", {"type": "decimal_parsing", "msg": "Input should be a valid decimal", "input": "abc"}),
        ("NaN", {"type": "finite_number", "msg": "Input should be a finite number", "input": "NaN"}),
        ("-Infinity", {"type": "finite_number", "msg": "Input should be a finite number", "input": "-Infinity"}),
        (True, {"type": "decimal_type", "msg": "Decimal input should be an integer, float, string or Decimal object", "input": True}),
        (
            "2e24",
            {
                "type": "value_error",
                "msg": "Value error, initial_value_usd must be within -1000000000000000000000000 and 1000000000000000000000000",
                "input": "2E+24",
                "ctx": {"error": {}},
            },
        ),
    ],
)
async def test_initial_value_must_be_a_finite_decimal(client: Any, value: Any, item: dict[str, Any]) -> None:
    response = await client.post(f"{BASE}/", params={"user_id": "alice"}, json={**NEW, "initial_value_usd": value}, headers=AUTH)
    assert await errors(response) == [{**item, "loc": ["body", "initial_value_usd"]}]


@pytest.mark.parametrize(
    ("value", "written"), [(" 100 ", "100.00"), ("1e3", "1000.00"), ("1_000", "1000.00"), (1e20, "100000000000000000000.00")]
)
async def test_initial_value_is_read_as_pydantic_reads_a_decimal(client: Any, value: Any, written: str) -> None:
    created = await create(client, body={**NEW, "initial_value_usd": value})
    assert created["total_return"] != ""
    analytics = await client.get(f"{BASE}/{created['portfolio_id']}/analytics", params={"user_id": "alice"}, headers=AUTH)
    assert (await analytics.json())["initial_value_usd"] == written


async def test_a_negative_initial_value_funds_nothing(client: Any) -> None:
    created = await create(client, body={**NEW, "initial_value_usd": -5})
    assert created["total_value_usd"] == "0.00"
    assert created["total_return"] == "5.00"  # worth 0, from an initial -5


async def test_decimal_strings_and_numbers_are_both_accepted(client: Any) -> None:
    assert (await create(client, body={**NEW, "initial_value_usd": "1234.5"}))["total_return"] != ""
    assert (await create(client, body={**NEW, "name": "n", "initial_value_usd": 99.99}))["name"] == "n"


async def test_missing_and_non_object_bodies(client: Any) -> None:
    url, params = f"{BASE}/", {"user_id": "alice"}
    missing = [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    assert await errors(await client.post(url, params=params, headers=AUTH)) == missing
    null = await client.post(url, params=params, data=b"null", headers={**AUTH, "Content-Type": "application/json"})
    assert await errors(null) == [  # FastAPI's: a null body is not an object (tests/bitcain/test_fastapi_differential.py)
        {
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": None,
        }
    ]
    for body, shown in ((b"[1]", [1]), (b'"x"', "x")):
        response = await client.post(url, params=params, data=body, headers={**AUTH, "Content-Type": "application/json"})
        assert await errors(response) == [
            {
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": shown,
            }
        ]


async def test_malformed_json_is_json_invalid_at_its_position(client: Any) -> None:
    response = await client.post(
        f"{BASE}/", params={"user_id": "alice"}, data=b'{"name": ', headers={**AUTH, "Content-Type": "application/json"}
    )
    [item] = await errors(response)
    assert item["type"] == "json_invalid" and item["msg"] == "JSON decode error" and item["input"] == {}
    assert item["loc"][0] == "body" and isinstance(item["loc"][1], int) and set(item["ctx"]) == {"error"}


async def test_a_body_that_is_not_json_is_422_as_fastapi_answers(client: Any) -> None:
    response = await client.post(f"{BASE}/", params={"user_id": "alice"}, data=b"name=x", headers={**AUTH, "Content-Type": "text/plain"})
    [item] = await errors(response)
    assert item["type"] == "model_attributes_type" and item["loc"] == ["body"]


@pytest.mark.parametrize(
    ("path", "query", "item"),
    [
        (
            "value-history",
            {"days": "0"},
            {
                "type": "greater_than_equal",
                "loc": ["query", "days"],
                "msg": "Input should be greater than or equal to 1",
                "input": "0",
                "ctx": {"ge": 1},
            },
        ),
        (
            "value-history",
            {"days": "366"},
            {
                "type": "less_than_equal",
                "loc": ["query", "days"],
                "msg": "Input should be less than or equal to 365",
                "input": "366",
                "ctx": {"le": 365},
            },
        ),
        (
            "history",
            {"timeframe": "2Y"},
            {
                "type": "enum",
                "loc": ["query", "timeframe"],
                "msg": "Input should be '1D', '1W', '1M', '3M', '1Y' or 'ALL'",
                "input": "2Y",
                "ctx": {"expected": "'1D', '1W', '1M', '3M', '1Y' or 'ALL'"},
            },
        ),
        (
            "history/performance",
            {"timeframe": "1m"},
            {
                "type": "enum",
                "loc": ["query", "timeframe"],
                "msg": "Input should be '1D', '1W', '1M', '3M', '1Y' or 'ALL'",
                "input": "1m",
                "ctx": {"expected": "'1D', '1W', '1M', '3M', '1Y' or 'ALL'"},
            },
        ),
    ],
)
async def test_range_and_enum_parameters(client: Any, path: str, query: dict[str, str], item: dict[str, Any]) -> None:
    assert await errors(await client.get(f"{BASE}/{path}", params=query, headers=AUTH)) == [item]


@pytest.mark.parametrize(
    ("query", "item"),
    [
        (
            {"max_pages": "0"},
            {
                "type": "greater_than_equal",
                "loc": ["query", "max_pages"],
                "msg": "Input should be greater than or equal to 1",
                "input": "0",
                "ctx": {"ge": 1},
            },
        ),
        (
            {"max_pages": "26"},
            {
                "type": "less_than_equal",
                "loc": ["query", "max_pages"],
                "msg": "Input should be less than or equal to 25",
                "input": "26",
                "ctx": {"le": 25},
            },
        ),
        (
            {"dry_run": "perhaps"},
            {
                "type": "bool_parsing",
                "loc": ["query", "dry_run"],
                "msg": "Input should be a valid boolean, unable to interpret input",
                "input": "perhaps",
            },
        ),
    ],
)
async def test_backfill_parameters(client: Any, query: dict[str, str], item: dict[str, Any]) -> None:
    assert await errors(await client.post(f"{BASE}/ingest/backfill", params=query, headers=AUTH)) == [item]


# --- authentication ---------------------------------------------------------------------------

AUTHENTICATED = [
    ("GET", "balances"),
    ("GET", "aggregate"),
    ("GET", "cost-basis"),
    ("GET", "cost-basis/lots"),
    ("POST", "cost-basis/lots/rebuild"),
    ("POST", "ingest/backfill"),
    ("POST", "ingest/csv"),
    ("POST", "refresh"),
    ("GET", "value-history"),
    ("POST", "?user_id=alice"),
    ("GET", "history"),
    ("GET", "history/performance"),
    ("GET", "history/export"),
    ("PUT", f"{CORE}?user_id={SANDBOX_USER}"),
    ("DELETE", f"{CORE}?user_id={SANDBOX_USER}"),
]


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED)
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Not authenticated"),
        ({"Authorization": "Basic bW9jazptb2Nr"}, "Not authenticated"),
        ({"Authorization": "Bearer not-the-token"}, "Invalid authentication credentials"),
    ],
)
async def test_bearer_token_is_required_where_the_document_shows_it(
    client: Any, method: str, path: str, headers: dict[str, str], message: str
) -> None:
    response = await client.request(method, f"{BASE}/{path}", headers=headers, json={})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await response.json() == {"detail": message}


@pytest.mark.parametrize(
    "path",
    ["health", f"?user_id={SANDBOX_USER}", CORE, f"{CORE}/analytics?user_id={SANDBOX_USER}"],
)
async def test_operations_without_authorization_take_none(client: Any, path: str) -> None:
    response = await client.get(f"{BASE}/{path}")
    assert response.status == 200, await response.text()


async def test_health(client: Any) -> None:
    response = await client.get(f"{BASE}/health")
    assert await response.json() == {"status": "healthy", "service": "portfolio", "timestamp": "2026-01-15T15:00:00Z"}


async def test_fastapi_404_and_405(client: Any) -> None:
    response = await client.get(f"{BASE}/x/y/z")
    assert response.status == 404 and await response.json() == {"detail": "Not Found"}
    response = await client.patch(f"{BASE}/")
    assert response.status == 405 and await response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["Allow"] == "GET"  # Starlette's: the first route matching the path (list, then create)


async def test_history_routes_are_not_taken_by_portfolio_id(client: Any) -> None:
    for path in ("history", "history/performance", "history/export", "balances", "aggregate", "cost-basis", "value-history"):
        response = await client.get(f"{BASE}/{path}")
        assert response.status == 401, path  # their own route: it needs the token, /{portfolio_id} does not


async def test_configured_tokens_are_users_of_their_own(make_client: Any) -> None:
    credentials = {"bitcain": [{"HTTPBearer": "token-a", "name": "a"}, {"HTTPBearer": "token-b", "user_id": "user-b"}]}
    client = await make_client(specs=[ROOT / "specs"], credentials=credentials)
    a = await (await client.get(f"{BASE}/aggregate", headers={"Authorization": "Bearer token-a"})).json()
    b = await (await client.get(f"{BASE}/aggregate", headers={"Authorization": "Bearer token-b"})).json()
    assert b["user_id"] == "user-b" and a["user_id"] != "user-b"
    assert a["assets"] != b["assets"]
    assert (await client.get(f"{BASE}/aggregate", headers=AUTH)).status == 401


async def test_mock_reset_restores_the_seeded_portfolios(client: Any) -> None:
    await create(client, SANDBOX_USER)
    await client.delete(f"{BASE}/{CORE}", params={"user_id": SANDBOX_USER, "force": "true"}, headers=AUTH)
    assert [p["name"] for p in (await listed(client, user_id=SANDBOX_USER))[0]] == ["Growth"]
    response = await client.post("/__mock/reset", json={})
    assert response.status == 200
    page, _ = await listed(client, user_id=SANDBOX_USER, active_only=False)
    assert [p["portfolio_id"] for p in page] == [CORE, SATELLITE]
    assert (await create(client, SANDBOX_USER))["portfolio_id"] == new_portfolio_id(0, SANDBOX_USER, 1)


async def test_405_on_a_literal_route_allows_only_its_own_methods(client: Any) -> None:
    response = await client.post(f"{BASE}/health")
    assert response.status == 405 and response.headers["Allow"] == "GET"
    assert await response.json() == {"detail": "Method Not Allowed"}
    response = await client.patch(f"{BASE}/refresh", headers=AUTH)
    assert response.status == 405 and response.headers["Allow"] == "POST"
    response = await client.get(f"{BASE}/refresh", headers=AUTH)
    assert response.status == 404  # GET /refresh is GET /{portfolio_id}
    response = await client.put(f"{BASE}/history", params={"user_id": "x"}, json={}, headers=AUTH)
    assert response.status == 404  # PUT /history is PUT /{portfolio_id}, as in FastAPI
