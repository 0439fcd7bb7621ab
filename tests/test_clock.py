"""The sandbox clock over HTTP: set, advanced, frozen, run or following real time through /__mock/clock
(the default session's, and a session's under its prefix), what it refuses, and its effect on the
"now" of every API. Omniex's signature window keeps the real clock: it is about the client's."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from .bitcain.helpers import AUTH as BITCAIN_AUTH
from .bitcain.helpers import BASE as BITCAIN
from .bitcain.helpers import create
from .bitpanda.helpers import timestamps
from .helpers import JSON, InSession, MakeClient, control, open_session, problem
from .mesh.helpers import assert_coherent, get_portfolio, positions
from .omniex.helpers import BASE as OMNIEX
from .omniex.helpers import signed
from .treasure.helpers import bearer, error_of, get_history, history_of, history_of_with, new_token

LEAP_NOON = "2024-02-29T12:00:00Z"


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def close_to(text: str, expected: datetime) -> bool:
    """Whether a running clock's `now` is `expected`, give or take the test's own run time."""
    return abs(instant(text) - expected) < timedelta(seconds=5)


@pytest.fixture(params=["default", "session"])
async def sandbox(request: pytest.FixtureRequest, client: TestClient) -> InSession:
    """The default session, then a new session: every clock test runs in both."""
    return InSession(client, "") if request.param == "default" else await open_session(client)


async def set_clock(sandbox: InSession, now: str, frozen: bool = True) -> dict[str, Any]:
    return await control(sandbox, "PUT", "/clock", {"now": now, "frozen": frozen})


async def advance(sandbox: InSession, **by: float) -> dict[str, Any]:
    return await control(sandbox, "POST", "/clock/advance", by)


# --- the control routes -------------------------------------------------------------------------


async def test_a_clock_set_frozen_stays_at_its_instant(sandbox: InSession) -> None:
    described = {"now": LEAP_NOON, "frozen": True, "offsetSeconds": None, "realTime": False}
    assert await set_clock(sandbox, LEAP_NOON) == described
    assert await control(sandbox, "GET", "/clock") == described


async def test_an_instant_with_an_offset_or_none_is_read_as_utc(sandbox: InSession) -> None:
    assert (await set_clock(sandbox, "2024-02-29T14:00:00+02:00"))["now"] == LEAP_NOON
    assert (await set_clock(sandbox, "2024-02-29T12:00:00"))["now"] == LEAP_NOON


async def test_a_clock_set_running_runs_from_its_instant(sandbox: InSession) -> None:
    described = await set_clock(sandbox, LEAP_NOON, frozen=False)
    assert described["frozen"] is False and described["realTime"] is False
    assert close_to(described["now"], instant(LEAP_NOON))
    assert described["offsetSeconds"] == pytest.approx(instant(LEAP_NOON).timestamp() - time.time(), abs=5)


async def test_advance_moves_by_every_unit(sandbox: InSession) -> None:
    await set_clock(sandbox, LEAP_NOON)
    assert (await advance(sandbox, days=1, hours=2, minutes=3, seconds=4))["now"] == "2024-03-01T14:03:04Z"


async def test_a_negative_advance_goes_back(sandbox: InSession) -> None:
    await set_clock(sandbox, LEAP_NOON)
    assert (await advance(sandbox, days=-1.5))["now"] == "2024-02-28T00:00:00Z"


async def test_advancing_a_running_clock_keeps_it_running(sandbox: InSession) -> None:
    await set_clock(sandbox, LEAP_NOON, frozen=False)
    described = await advance(sandbox, days=2)
    assert described["frozen"] is False
    assert close_to(described["now"], instant(LEAP_NOON) + timedelta(days=2))


async def test_freeze_stops_a_running_clock_where_it_stands(sandbox: InSession) -> None:
    await set_clock(sandbox, LEAP_NOON, frozen=False)
    frozen = await control(sandbox, "POST", "/clock/freeze")
    assert frozen["frozen"] is True and close_to(frozen["now"], instant(LEAP_NOON))
    assert await control(sandbox, "GET", "/clock") == frozen


async def test_run_starts_a_frozen_clock_from_where_it_stands(sandbox: InSession) -> None:
    await set_clock(sandbox, LEAP_NOON)
    running = await control(sandbox, "POST", "/clock/run")
    assert running["frozen"] is False and running["realTime"] is False
    assert close_to(running["now"], instant(LEAP_NOON))


async def test_real_time_follows_the_wall_clock(sandbox: InSession) -> None:
    await set_clock(sandbox, LEAP_NOON)
    described = await control(sandbox, "POST", "/clock/real-time")
    assert described["realTime"] is True and described["frozen"] is False
    assert close_to(described["now"], datetime.now(UTC))
    assert described["offsetSeconds"] == pytest.approx(0, abs=1)


BAD_CLOCKS = [
    b'{"now": "2024-02-29T12:00:00Z", "zone": "UTC"}',
    b'{"now": "yesterday"}',
    b'{"now": 1709208000}',
    b'{"now": "1999-12-31T23:59:59Z"}',
    b'{"now": "2100-01-01T00:00:00Z"}',
    b'{"now": "2024-02-29T12:00:00Z", "frozen": "yes"}',
    b"{}",
    b"[]",
    b"{bad",
]
BAD_ADVANCES = [
    b'{"days": "1"}',
    b'{"days": true}',
    b'{"days": null}',
    b'{"weeks": 1}',
    b'{"days": 1, "fortnights": 1}',
    b"{}",
    b'{"days": -10000}',  # before 2000
    b'{"days": 40000}',  # more than 100 years at once
    b'{"seconds": 1e308}',
]


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        *(pytest.param("PUT", "/clock", body, id=f"set {body.decode()}") for body in BAD_CLOCKS),
        *(pytest.param("POST", "/clock/advance", body, id=f"advance {body.decode()}") for body in BAD_ADVANCES),
    ],
)
async def test_a_bad_clock_body_is_400_and_changes_nothing(sandbox: InSession, method: str, route: str, body: bytes) -> None:
    before = await control(sandbox, "GET", "/clock")
    await problem(await sandbox.request(method, f"/__mock{route}", data=body, headers=JSON), 400)
    assert await control(sandbox, "GET", "/clock") == before


async def test_a_session_made_with_its_own_clock_keeps_it(client: TestClient) -> None:
    session = await open_session(client, clock={"now": LEAP_NOON, "frozen": False})
    described = await control(session, "GET", "/clock")
    assert described["frozen"] is False and close_to(described["now"], instant(LEAP_NOON))
    assert (await control(client, "GET", "/clock"))["now"] == "2026-01-15T15:00:00Z"


@pytest.mark.parametrize("clock", [{"now": "1999-01-01T00:00:00Z"}, "2024-01-01T00:00:00Z", {"now": LEAP_NOON, "speed": 2}], ids=repr)
async def test_a_session_with_a_bad_clock_is_400(client: TestClient, clock: Any) -> None:
    await problem(await client.post("/__mock/sessions", json={"clock": clock}), 400)


# --- every API's "now" --------------------------------------------------------------------------


async def test_mesh_answers_as_a_server_started_at_the_clock(sandbox: InSession, make_client: MakeClient) -> None:
    _, before = await get_portfolio(sandbox, UserId="alice")
    await set_clock(sandbox, "2026-06-01T12:00:00Z")
    _, after = await get_portfolio(sandbox, UserId="alice")
    assert after == (await get_portfolio(await make_client(clock="2026-06-01T12:00:00Z"), UserId="alice"))[1]
    assert_coherent(after["content"])
    old, new = positions(before["content"]), positions(after["content"])
    assert [p["costBasis"] for p in old] == [p["costBasis"] for p in new]
    assert [p["lastPrice"] for p in old] != [p["lastPrice"] for p in new]


async def test_mesh_daily_returns_change_with_the_day(sandbox: InSession) -> None:
    _, today = await get_portfolio(sandbox, UserId="alice")
    await advance(sandbox, days=1)
    _, tomorrow = await get_portfolio(sandbox, UserId="alice")
    daily = [[p["totalDailyReturn"] for p in positions(body["content"])] for body in (today, tomorrow)]
    assert daily[0] != daily[1]


async def test_treasures_last_snapshot_follows_the_clock(sandbox: InSession) -> None:
    await set_clock(sandbox, "2023-03-10T09:00:00Z")
    history = await history_of(sandbox, start_date="2022-11-01", end_date="2030-01-01")
    assert history[-1]["date"] == "2023-03-01"
    await advance(sandbox, days=31)
    assert (await history_of(sandbox, start_date="2022-11-01", end_date="2030-01-01"))[-1]["date"] == "2023-04-01"


async def test_a_treasure_token_expires_when_the_clock_passes_its_day(sandbox: InSession) -> None:
    token = await new_token(sandbox)
    await advance(sandbox, hours=23, minutes=59)
    assert await history_of_with(sandbox, bearer(token))
    await advance(sandbox, minutes=2)
    details = await error_of(await get_history(sandbox, headers=bearer(token)), 401, "NOT_AUTHENTICATED")
    assert details[0]["reason_code"] == "EXPIRED"


async def test_a_token_expired_in_a_session_is_good_in_the_default_one(client: TestClient) -> None:
    session = await open_session(client)
    token = await new_token(session)
    await advance(session, days=2)
    await error_of(await get_history(session, headers=bearer(token)), 401, "NOT_AUTHENTICATED")
    assert await history_of_with(client, bearer(token))


async def test_bitpandas_latest_hour_is_the_clocks(sandbox: InSession) -> None:
    await set_clock(sandbox, "2025-06-01T10:20:00Z")
    assert await timestamps(sandbox) == ["2025-06-01T10:00:00.000Z"]
    await advance(sandbox, minutes=15)
    assert await timestamps(sandbox) == ["2025-06-01T11:00:00.000Z"]


async def test_a_bitpanda_series_without_end_date_ends_at_the_clock(sandbox: InSession) -> None:
    await set_clock(sandbox, "2025-06-01T10:20:00Z")
    series = await timestamps(sandbox, '(startDate: "2025-06-01T07:00:00Z", timePeriod: HOURLY)')
    assert series == [f"2025-06-01T{hour:02d}:00:00.000Z" for hour in (10, 9, 8, 7)]


async def test_a_bitcain_portfolio_is_created_at_the_clocks_instant(sandbox: InSession) -> None:
    await set_clock(sandbox, "2025-03-04T05:06:07Z")
    made = await create(sandbox, "carol")
    assert made["created_at"] == made["updated_at"] == "2025-03-04T05:06:07Z"


async def test_bitcains_history_ends_at_the_clock(sandbox: InSession) -> None:
    await set_clock(sandbox, "2025-03-04T05:06:07Z")
    history = await (await sandbox.get(f"{BITCAIN}/history", headers=BITCAIN_AUTH)).json()
    assert history[-1]["recorded_at"] == "2025-03-04T05:06:07Z"
    daily = await (await sandbox.get(f"{BITCAIN}/value-history", params={"days": "3"}, headers=BITCAIN_AUTH)).json()
    assert [point["date"] for point in daily["points"]] == ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"]
    assert daily["points"][-1]["recorded_at"] == "2025-03-04T05:06:07Z"


async def test_omniexs_signature_window_keeps_the_real_clock(sandbox: InSession) -> None:
    target = f"{OMNIEX}/portfolios"
    await control(sandbox, "POST", "/clock/real-time")
    await advance(sandbox, days=2)
    assert (await sandbox.get(target, headers=signed("GET", target))).status == 200
    at_the_sandbox_clock = str(int(instant((await control(sandbox, "GET", "/clock"))["now"]).timestamp() * 1000))
    refused = await sandbox.get(target, headers=signed("GET", target, timestamp=at_the_sandbox_clock))
    assert refused.status == 400
    assert (await refused.json())["errors"][0]["error"] == "TIMESTAMP_INVALID"


async def test_omniex_portfolios_are_not_updated_after_the_clock(sandbox: InSession) -> None:
    target = f"{OMNIEX}/portfolios"
    assert (await sandbox.get(target, headers=signed("GET", target))).status == 200
    await set_clock(sandbox, "2024-01-01T00:00:00Z")
    portfolios = (await (await sandbox.get(target, headers=signed("GET", target))).json())["data"]
    assert all(portfolio["updatedAt"] <= "2024-01-01T00:00:00.000Z" for portfolio in portfolios)
