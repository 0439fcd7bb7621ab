"""Remembered verdicts (request_memo.py): a repeated request skips validation, never authentication
or the handler, and nothing but its own target, identity and deciding headers picks its answer."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, make_mocked_request

from mockserver.appkeys import APIS
from mockserver.plan import ApiRuntime
from mockserver.request_memo import RequestMemo, Validated
from mockserver.responses import NO_PREFERENCES
from mockserver.security import SecurityPlan
from mockserver.validation import ParamChecker
from mockserver.vendors import omniex
from mockserver.vocabulary import Identity, Reply

from .helpers import MESH_AUTH, PORTFOLIO, ROOT, TEST_SPECS

WIDGETS = "/widgets/v2/widgets"
WIDGET_AUTH = {"X-Api-Key": "widget-key"}
BITCAIN = "/bitcain/api/v1/portfolio/"
BITCAIN_AUTH = {"Authorization": "Bearer mock-bitcain-token"}
OMNIEX = "/omniex/edge/v1beta/portfolios"
NEW_PORTFOLIO = {"name": "Memo", "target_allocations": {"BTC": 0.5, "ETH": 0.5}, "initial_value_usd": "1000"}


def api_named(client: TestClient, name: str) -> ApiRuntime:
    api = next(api for api in client.app[APIS] if api.name == name)
    assert isinstance(api, ApiRuntime)
    return api


def counting(monkeypatch: pytest.MonkeyPatch, owner: type, name: str, calls: Counter[str]) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[f"{owner.__name__}.{name}"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def omniex_signed(method: str, path: str, timestamp: str) -> dict[str, str]:
    digest = hmac.new(b"mock-onx-secret", (method + path + timestamp).encode(), hashlib.sha384).hexdigest()
    return {"ONX-API-KEY": "mock-onx-key", "ONX-API-TIMESTAMP": timestamp, "ONX-API-SIGNATURE": digest}


@pytest.fixture
async def widgets(make_client: Any) -> TestClient:
    return await make_client(specs=[TEST_SPECS], fixtures=[TEST_SPECS / "fixtures"])


async def test_a_repeated_request_is_authenticated_every_time_and_validated_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter[str] = Counter()
    counting(monkeypatch, SecurityPlan, "check", calls)
    counting(monkeypatch, ParamChecker, "check", calls)
    bodies = set()
    for _ in range(3):
        response = await client.get(PORTFOLIO, params={"UserId": "memo-user"}, headers=MESH_AUTH)
        assert response.status == 200
        bodies.add(await response.read())
    assert len(bodies) == 1
    params = len(next(plan for plan in api_named(client, "mesh").plans if plan.path == "/api/v1/holdings/portfolio").params)
    assert calls == {"SecurityPlan.check": 3, "ParamChecker.check": params}


async def test_a_remembered_verdict_never_stands_in_for_credentials(client: TestClient) -> None:
    wrong = {**MESH_AUTH, "X-Client-Secret": "sk_sand_wrong_secret"}
    for headers, status in ((MESH_AUTH, 200), (wrong, 401), (MESH_AUTH, 200), ({}, 401), (wrong, 401)):
        response = await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=headers)
        assert response.status == status, headers.keys()
        if status == 401:
            assert (await response.json())["errorType"] == "unauthorized"


async def test_a_remembered_error_is_the_same_error(client: TestClient) -> None:
    answers = []
    for _ in range(2):
        response = await client.get(PORTFOLIO, headers=MESH_AUTH)
        assert response.status == 400
        answers.append(await response.json())
    assert answers[0] == answers[1]
    assert answers[0]["errorData"]["violations"][0]["name"] == "UserId"


async def test_every_deciding_header_picks_its_own_answer(widgets: TestClient) -> None:
    """The same target with a fixture's header, a header parameter that fails, a Prefer header, and none."""
    cases: list[tuple[dict[str, str], int, Callable[[Any], bool]]] = [
        ({"X-Trace": "fixture-trace"}, 200, lambda body: body["items"][0]["name"] == "Traced"),
        ({}, 200, lambda body: len(body["items"]) == 2),
        ({"X-Trace": "abc"}, 400, lambda body: body["violations"][0]["name"] == "X-Trace"),
        ({"Prefer": "example=none"}, 200, lambda body: body["items"] == []),
        ({"Prefer": "code=429"}, 429, lambda body: "code" in body),
    ]
    for _ in range(2):
        for extra, status, expected in cases:
            response = await widgets.get(WIDGETS, headers={**WIDGET_AUTH, **extra})
            body = await response.json()
            assert response.status == status, (extra, body)
            assert expected(body), (extra, body)


async def test_the_target_picks_the_answer(widgets: TestClient) -> None:
    """A generated answer is seeded by the target: the same query, the same body; another, another."""
    bodies = {}
    for query in ("q=a", "q=b", "q=a", "q=b"):
        response = await widgets.get(f"{WIDGETS}/search?{query}")
        assert response.status == 200
        bodies.setdefault(query, set()).add(await response.read())
    assert all(len(seen) == 1 for seen in bodies.values())
    assert bodies["q=a"] != bodies["q=b"]


async def test_the_handler_still_runs_every_time(make_client: Any) -> None:
    client = await make_client(specs=[ROOT / "specs"])
    listing = {"user_id": "memo-owner"}
    before = await client.get(BITCAIN, params=listing, headers=BITCAIN_AUTH)
    assert before.status == 200
    created = await client.post(BITCAIN, params=listing, json=NEW_PORTFOLIO, headers=BITCAIN_AUTH)
    assert created.status == 201
    after = await client.get(BITCAIN, params=listing, headers=BITCAIN_AUTH)
    assert after.status == 200
    assert len(await after.json()) == len(await before.json()) + 1
    assert (await created.json())["portfolio_id"] in {p["portfolio_id"] for p in await after.json()}


async def test_requests_with_a_body_and_operations_that_take_one_are_not_remembered(widgets: TestClient) -> None:
    api = api_named(widgets, "widgets")
    for _ in range(2):
        response = await widgets.post(WIDGETS, json={"name": "Cog", "size": 1}, headers=WIDGET_AUTH)
        assert response.status == 201
    assert len(api.memo) == 0
    assert not next(plan for plan in api.plans if plan.key == "createWidget").memoized
    response = await widgets.get(WIDGETS, headers=WIDGET_AUTH)
    assert response.status == 200
    assert len(api.memo) == 1


async def test_the_headers_that_decide_are_the_ones_the_operation_reads(widgets: TestClient) -> None:
    plans = {plan.key: plan for plan in api_named(widgets, "widgets").plans}
    assert plans["listWidgets"].deciding_headers == ("prefer", "x-trace")  # header parameter and fixture; not X-Api-Key
    assert plans["getWidget"].deciding_headers == ("cookie", "prefer")  # a cookie parameter
    assert plans["getPart"].deciding_headers == ("prefer",)  # a cookie credential: the identity stands for it
    assert plans["searchWidgets"].deciding_headers == ("prefer",)


def test_the_memo_is_bounded_and_keys_only_the_apis_own_identities() -> None:
    own = Identity({"key": b"k"}, name="own")
    memo = RequestMemo([own], entries=3)
    stranger = Identity({"key": b"k"}, name="own")  # equal, but not one of the API's
    request = make_mocked_request("GET", "/a?x=1")
    assert memo.key(1, (), request, stranger) is None
    assert memo.key(1, (), request, None) != memo.key(1, (), request, own)
    for n in range(10):
        key = memo.key(1, (), make_mocked_request("GET", f"/a?x={n}"), own)
        assert key is not None
        memo.put(key, Reply(200, b"{}"))
    assert len(memo) == 3


def test_parsed_parameters_count_against_the_memos_size() -> None:
    """A short query can parse into many values (an exploded array): each is counted, not just the text."""
    own = Identity({"key": b"k"}, name="own")
    memo = RequestMemo([own], size=40_000)
    heavy = Validated(own, {"query": {"tags": list(range(100))}, "path": {}, "header": {}, "cookie": {}}, None, NO_PREFERENCES, {})
    for n in range(20):
        key = memo.key(1, (), make_mocked_request("GET", f"/a?n={n}"), own)
        assert key is not None
        memo.put(key, heavy)
    assert 0 < len(memo) <= 40_000 // (64 * 100)


async def test_a_signed_request_is_checked_and_handled_every_time(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Omniex requests are signed anew each time (another timestamp, another signature): the verdict
    on the rest is remembered by identity, every signature is still checked, every handler call made."""
    calls: Counter[str] = Counter()
    listing = omniex.VENDOR.handlers["getPortfolios"]

    def counted(call: Any) -> Any:
        calls[str(call.params["query"].get("include"))] += 1
        return listing(call)

    monkeypatch.setitem(omniex.VENDOR.handlers, "getPortfolios", counted)
    client = await make_client(specs=[ROOT / "specs"])
    bodies: dict[str, set[bytes]] = {}
    for n, include in enumerate(("", "?include=integrations", "", "?include=integrations", "")):
        response = await client.get(f"{OMNIEX}{include}", headers=omniex_signed("GET", OMNIEX, str(int(time.time() * 1000) + n)))
        assert response.status == 200, await response.text()
        bodies.setdefault(include, set()).add(await response.read())
    assert calls == {"None": 3, "integrations": 2}
    assert [len(seen) for seen in bodies.values()] == [1, 1]
    assert len(api_named(client, "omniex").memo) == 2
    refused = await client.get(
        OMNIEX, headers={**omniex_signed("GET", OMNIEX, str(int(time.time() * 1000))), "ONX-API-SIGNATURE": "0" * 96}
    )
    assert refused.status == 401
