"""Sessions over HTTP: made, listed, found and deleted through /__mock/sessions; each one an isolated
sandbox (state, journal, faults, clock) reached under /__session/<id>; bounded in number, expired
when idle; every API answering under the prefix with its usual credentials."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import mockserver.sessions

from .bitcain.helpers import AUTH as BITCAIN_AUTH
from .bitcain.helpers import BASE as BITCAIN
from .bitcain.helpers import CORE, NEW, SANDBOX_USER, SATELLITE, create, listed
from .bitpanda.helpers import LATEST_QUERY, run
from .helpers import JSON, MESH_AUTH, PORTFOLIO, InSession, MakeClient, control, open_session, problem
from .mesh.helpers import assert_coherent, get_portfolio
from .omniex.helpers import BASE as OMNIEX
from .omniex.helpers import signed
from .treasure.helpers import bearer, history_of_with, new_token


async def mesh_status(sandbox: InSession) -> int:
    response = await sandbox.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    return response.status


async def mesh_calls(sandbox: InSession) -> int:
    return int((await control(sandbox, "POST", "/requests/count", {"api": "mesh"}))["count"])


async def portfolio_names(sandbox: InSession, user: str) -> list[str]:
    return [portfolio["name"] for portfolio in (await listed(sandbox, user_id=user, active_only=False))[0]]


@pytest.fixture
def default(client: TestClient) -> InSession:
    """The default session: the server as it is without a prefix."""
    return InSession(client, "")


# --- made, listed, found, deleted ---------------------------------------------------------------


async def test_a_session_made_with_an_id_is_described(client: TestClient) -> None:
    response = await client.post("/__mock/sessions", json={"id": "team-a.run_1"})
    assert response.status == 201
    described = await response.json()
    assert described["id"] == "team-a.run_1"
    assert described["baseUrl"] == f"http://{client.host}:{client.port}/__session/team-a.run_1"
    assert described["clock"] == await control(client, "GET", "/clock")  # the default session's clock
    assert described["journal"] == {"entries": 0, "capacity": 200}


async def test_a_session_made_without_an_id_gets_one(client: TestClient) -> None:
    first, second = [await control(client, "POST", "/sessions") for _ in range(2)]
    assert first["id"] != second["id"]
    assert len(first["id"]) == 16 and int(first["id"], 16) >= 0


@pytest.mark.parametrize(
    "body",
    [
        {"id": "-starts-with-a-dash"},
        {"id": "a" * 65},
        {"id": "has/slash"},
        {"id": "ümlaut"},
        {"id": 7},
        {"name": "x"},
        {"id": ""},
    ],
    ids=repr,
)
async def test_a_bad_session_body_is_400(client: TestClient, body: dict[str, Any]) -> None:
    await problem(await client.post("/__mock/sessions", json=body), 400)
    assert (await control(client, "GET", "/sessions"))["sessions"] == []


async def test_a_taken_id_is_409(client: TestClient) -> None:
    await open_session(client, id="a")
    assert "already exists" in await problem(await client.post("/__mock/sessions", json={"id": "a"}), 409)


async def test_sessions_are_listed_in_creation_order(client: TestClient) -> None:
    for name in ("b", "a"):
        await open_session(client, id=name)
    listing = await control(client, "GET", "/sessions")
    assert [session["id"] for session in listing["sessions"]] == ["b", "a"]
    assert listing["max"] == 1000 and listing["idleSeconds"] == 3600


async def test_a_session_is_found_by_its_id(client: TestClient) -> None:
    await open_session(client, id="a")
    found = await control(client, "GET", "/sessions/a")
    assert found["id"] == "a" and found["baseUrl"].endswith("/__session/a")
    await problem(await client.get("/__mock/sessions/b"), 404)


async def test_a_deleted_session_is_gone_under_its_prefix_too(client: TestClient) -> None:
    session = await open_session(client, id="a")
    assert await control(client, "DELETE", "/sessions/a") == {"deleted": "a"}
    await problem(await client.get("/__mock/sessions/a"), 404)
    await problem(await session.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH), 404)
    await problem(await session.get("/__mock/requests"), 404)
    await problem(await client.delete("/__mock/sessions/a", headers=JSON), 404)


@pytest.mark.parametrize("path", ["/mesh/api/v1/holdings/portfolio?UserId=alice", "/__mock/clock", "", "/"])
async def test_an_unknown_session_is_404_in_problem_json(client: TestClient, path: str) -> None:
    detail = await problem(await client.get(f"/__session/nobody{path}", headers=MESH_AUTH), 404)
    assert "no session 'nobody'" in detail


async def test_a_session_inside_a_session_is_404(client: TestClient) -> None:
    await open_session(client, id="a")
    await open_session(client, id="b")
    await problem(await client.get("/__session/a/__session/b/__mock/clock"), 404)
    await problem(await client.get("/__session/a/__session/b/mesh/api/v1/holdings/portfolio?UserId=x", headers=MESH_AUTH), 404)


async def test_session_routes_need_the_control_token_and_the_apis_do_not(make_client: MakeClient) -> None:
    client = await make_client(control_token="let-me-in")
    assert (await client.post("/__mock/sessions", json={"id": "a"})).status == 401
    made = await client.post("/__mock/sessions", json={"id": "a"}, headers={"Authorization": "Bearer let-me-in"})
    assert made.status == 201
    session = InSession(client, "/__session/a")
    assert (await session.get("/__mock/requests")).status == 401
    assert await mesh_status(session) == 200


# --- isolation ----------------------------------------------------------------------------------


async def test_a_portfolio_made_in_a_session_stays_in_it(client: TestClient, default: InSession) -> None:
    a, b = await open_session(client), await open_session(client)
    await create(a, "carol")
    assert await portfolio_names(a, "carol") == ["Growth"]
    assert await portfolio_names(b, "carol") == []
    assert await portfolio_names(default, "carol") == []


async def test_the_same_request_in_two_sessions_makes_each_its_own_portfolio(client: TestClient) -> None:
    a, b = await open_session(client), await open_session(client)
    one = await create(a, "carol", {**NEW, "name": "One"})
    two = await create(b, "carol", {**NEW, "name": "Two", "initial_value_usd": "500"})
    got_one = await (await a.get(f"{BITCAIN}/{one['portfolio_id']}")).json()
    got_two = await (await b.get(f"{BITCAIN}/{two['portfolio_id']}")).json()
    assert (got_one["name"], got_two["name"]) == ("One", "Two")
    assert float(got_one["total_value_usd"]) > float(got_two["total_value_usd"])


async def test_every_new_session_has_the_seeded_portfolios(client: TestClient, default: InSession) -> None:
    deleted = await default.delete(f"{BITCAIN}/{CORE}", params={"user_id": SANDBOX_USER, "force": "true"}, headers=BITCAIN_AUTH)
    assert deleted.status == 204
    session = await open_session(client)
    page, _ = await listed(session, user_id=SANDBOX_USER, active_only=False)
    assert [portfolio["portfolio_id"] for portfolio in page] == [CORE, SATELLITE]


async def test_a_sessions_requests_are_in_its_journal_only(client: TestClient, default: InSession) -> None:
    a, b = await open_session(client), await open_session(client)
    for _ in range(2):
        await mesh_status(a)
    await mesh_status(default)
    assert (await mesh_calls(a), await mesh_calls(b), await mesh_calls(default)) == (2, 0, 1)
    journal = await control(a, "GET", "/requests")
    assert journal["total"] == 2 and journal["capacity"] == 200
    assert journal["requests"][0]["path"] == PORTFOLIO and journal["requests"][0]["api"] == "mesh"


async def test_a_fault_added_in_a_session_hits_its_requests_only(client: TestClient, default: InSession) -> None:
    a, b = await open_session(client), await open_session(client)
    await control(a, "POST", "/faults", {"api": "mesh", "status": 503})
    assert (await mesh_status(a), await mesh_status(b), await mesh_status(default)) == (503, 200, 200)
    assert (await control(default, "GET", "/faults"))["faults"] == []
    assert len((await control(a, "GET", "/faults"))["faults"]) == 1


async def test_advancing_a_sessions_clock_moves_it_only(client: TestClient, default: InSession) -> None:
    a, b = await open_session(client), await open_session(client)
    before = await control(default, "GET", "/clock")
    moved = await control(a, "POST", "/clock/advance", {"days": 3})
    assert moved["now"] == "2026-01-18T15:00:00Z"
    assert await control(a, "GET", "/clock") == moved
    assert await control(b, "GET", "/clock") == before
    assert await control(default, "GET", "/clock") == before
    assert (await control(client, "GET", f"/sessions/{a.id}"))["clock"] == moved


@pytest.mark.parametrize("route", ["/__session/{id}/__mock/reset", "/__mock/sessions/{id}/reset"])
async def test_resetting_a_session_leaves_the_others_alone(client: TestClient, default: InSession, route: str) -> None:
    a, b = await open_session(client, id="a"), await open_session(client, id="b")
    for sandbox in (a, b, default):
        await create(sandbox, "carol")
        await control(sandbox, "POST", "/faults", {"api": "omniex", "status": 500})
    await control(a, "POST", "/clock/advance", {"hours": 1})
    clock = await control(a, "GET", "/clock")
    assert (await client.post(route.format(id="a"), headers=JSON)).status == 200
    assert (await control(a, "GET", "/requests"))["total"] == 0 and (await control(a, "GET", "/faults"))["faults"] == []
    assert await portfolio_names(a, "carol") == []
    assert await control(a, "GET", "/clock") == clock  # a reset keeps the clock
    for other in (b, default):
        assert await portfolio_names(other, "carol") == ["Growth"]
        assert len((await control(other, "GET", "/faults"))["faults"]) == 1


async def test_resetting_the_default_session_leaves_sessions_alone(client: TestClient, default: InSession) -> None:
    session = await open_session(client)
    for sandbox in (session, default):
        await create(sandbox, "carol")
        await control(sandbox, "POST", "/faults", {"api": "omniex", "status": 500})
    await control(default, "POST", "/reset")
    assert await portfolio_names(default, "carol") == []
    assert await portfolio_names(session, "carol") == ["Growth"]
    assert (await control(session, "GET", "/requests"))["total"] > 0
    assert len((await control(session, "GET", "/faults"))["faults"]) == 1


# --- bounds and expiry --------------------------------------------------------------------------


class ShiftedTime:
    """The time module as mockserver.sessions reads it, `shift` seconds ahead of the real one."""

    def __init__(self) -> None:
        self.shift = 0.0

    def time(self) -> float:
        return time.time() + self.shift

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> ShiftedTime:
    """Time travel for the sessions' idle expiry: set `later.shift`."""
    shifted = ShiftedTime()
    monkeypatch.setattr(mockserver.sessions, "time", shifted)
    return shifted


async def test_beyond_max_sessions_is_409_until_one_is_deleted(make_client: MakeClient) -> None:
    client = await make_client(max_sessions=2)
    for name in ("a", "b"):
        await open_session(client, id=name)
    assert "max_sessions" in await problem(await client.post("/__mock/sessions", json={"id": "c"}), 409)
    await control(client, "DELETE", "/sessions/a")
    await open_session(client, id="c")


async def test_no_sessions_when_max_sessions_is_zero(make_client: MakeClient) -> None:
    client = await make_client(max_sessions=0)
    await problem(await client.post("/__mock/sessions", json={}), 409)


async def test_a_session_unused_beyond_the_idle_expiry_is_gone(make_client: MakeClient, later: ShiftedTime) -> None:
    client = await make_client(session_idle_seconds=10)
    session = await open_session(client, id="a")
    later.shift = 11
    await problem(await session.get("/__mock/clock"), 404)
    await problem(await client.get("/__mock/sessions/a"), 404)
    assert (await control(client, "GET", "/sessions"))["sessions"] == []


async def test_an_expired_session_is_swept_from_the_list(make_client: MakeClient, later: ShiftedTime) -> None:
    client = await make_client(session_idle_seconds=10)
    await open_session(client, id="a")
    later.shift = 5
    await open_session(client, id="b")
    later.shift = 12
    assert [session["id"] for session in (await control(client, "GET", "/sessions"))["sessions"]] == ["b"]


async def test_using_a_session_keeps_it_alive(make_client: MakeClient, later: ShiftedTime) -> None:
    client = await make_client(session_idle_seconds=10)
    session = await open_session(client, id="a")
    for shift in (6, 12, 18):
        later.shift = shift
        assert await mesh_status(session) == 200


async def test_an_expired_session_frees_its_place(make_client: MakeClient, later: ShiftedTime) -> None:
    client = await make_client(max_sessions=1, session_idle_seconds=10)
    await open_session(client, id="a")
    later.shift = 11
    await open_session(client, id="b")


async def test_a_sessions_journal_keeps_its_newest_requests_within_its_size(make_client: MakeClient) -> None:
    client = await make_client(session_journal_size=3)
    session = await open_session(client, id="a")
    for index in range(5):
        await session.get(PORTFOLIO, params={"UserId": f"user-{index}"}, headers=MESH_AUTH)
    journal = await control(session, "GET", "/requests")
    assert journal["total"] == 3 and journal["capacity"] == 3
    assert [entry["query"]["UserId"] for entry in journal["requests"]] == [["user-4"], ["user-3"], ["user-2"]]
    assert (await control(client, "GET", "/sessions/a"))["journal"] == {"entries": 3, "capacity": 3}


# --- every API under a session's prefix, with its usual credentials -----------------------------


async def test_mesh_answers_in_a_session_as_in_the_default_one(client: TestClient, default: InSession) -> None:
    session = await open_session(client)
    status, body = await get_portfolio(session, UserId="alice")
    assert status == 200
    assert_coherent(body["content"])
    assert body == (await get_portfolio(default, UserId="alice"))[1]


@pytest.mark.parametrize("signed_path", ["{prefix}" + OMNIEX + "/portfolios", OMNIEX + "/portfolios", "/edge/v1beta/portfolios"])
async def test_omniex_accepts_a_signature_with_or_without_the_session_prefix(client: TestClient, signed_path: str) -> None:
    session = await open_session(client)
    headers = signed("GET", OMNIEX + "/portfolios", sign_path=signed_path.format(prefix=session.prefix))
    response = await session.get(OMNIEX + "/portfolios", headers=headers)
    assert response.status == 200, await response.text()
    assert len((await response.json())["data"]) >= 3


async def test_omniex_refuses_a_signature_over_another_sessions_path(client: TestClient) -> None:
    session = await open_session(client)
    headers = signed("GET", OMNIEX + "/portfolios", sign_path=f"/__session/other{OMNIEX}/portfolios")
    response = await session.get(OMNIEX + "/portfolios", headers=headers)
    assert response.status == 401
    assert (await response.json())["errors"][0]["error"] == "AUTHENTICATION_FAILED"


async def test_treasure_takes_the_token_of_the_sessions_token_endpoint(client: TestClient) -> None:
    session = await open_session(client)
    token = await new_token(session)
    assert await history_of_with(session, bearer(token))


async def test_bitpanda_answers_in_a_session_as_in_the_default_one(client: TestClient, default: InSession) -> None:
    session = await open_session(client)
    answer = await run(session, LATEST_QUERY)
    assert answer["data"]["user"]["portfolio"]["items"]
    assert answer == await run(default, LATEST_QUERY)


async def test_bitcain_makes_and_lists_portfolios_in_a_session(client: TestClient) -> None:
    session = await open_session(client)
    made = await create(session, "carol")
    page, response = await listed(session, user_id="carol")
    assert [portfolio["portfolio_id"] for portfolio in page] == [made["portfolio_id"]]
    assert response.headers["X-Total-Count"] == "1"
    assert (await session.get(f"{BITCAIN}/health")).status == 200
