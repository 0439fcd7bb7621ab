"""The control routes of sessions and of the sandbox clock (sessions.py, sandbox/clock.py).

- `GET /__mock/sessions`, `POST /__mock/sessions` (`{"id"?, "clock"?}`), `GET` and `DELETE
  /__mock/sessions/<id>`, `POST /__mock/sessions/<id>/reset`;
- `GET /__mock/clock`, `PUT /__mock/clock` (`{"now", "frozen"?}`), `POST /__mock/clock/advance`
  (`{"days"?, "hours"?, "minutes"?, "seconds"?}`), `POST /__mock/clock/freeze`, `.../run` and
  `.../real-time`. Under `/__session/<id>` they move that session's clock; else the default
  session's, which with `--workers` each process keeps for itself.

They sit behind the control API's perimeter (control.py), as every /__mock route does.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from .envelopes import problem_json
from .sandbox.clock import Clock
from .sessions import SESSIONS, Session, SessionError, session_of
from .vocabulary import Problem, Violation, json_reply, to_response

_ADVANCE_UNITS = {"days": 86_400, "hours": 3_600, "minutes": 60, "seconds": 1}
_MAX_ADVANCE_S = 100 * 365 * 86_400
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _json(payload: Any, status: int = 200) -> web.Response:
    return to_response(json_reply(status, payload))


def _problem(status: int, message: str) -> web.Response:
    return to_response(problem_json(Problem(status, message, [Violation("body", "", message)])))


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("the body is a JSON object")
    return body


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


# --- sessions


async def list_sessions(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    base = base_url(request)
    listed = [session.describe(base) for session in sessions.listing()]
    return _json({"sessions": listed, "max": sessions.settings.max_sessions, "idleSeconds": sessions.settings.session_idle_seconds})


async def create_session(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    try:
        body = await _body(request)
        unknown = set(body) - {"id", "clock"}
        if unknown:
            raise ValueError(f"unknown members: {', '.join(sorted(unknown))}; known: id, clock")
        wanted = body.get("id")
        if wanted is not None and not isinstance(wanted, str):
            raise ValueError("id must be a string")
        clock = _clock_from(body["clock"]) if body.get("clock") is not None else None
        session = sessions.create(wanted, clock)
    except SessionError as exc:
        return _problem(exc.status, str(exc))
    except ValueError as exc:
        return _problem(400, str(exc))
    return _json(session.describe(base_url(request)), 201)


async def get_session(request: web.Request) -> web.Response:
    session = request.app[SESSIONS].get(request.match_info["id"])
    if session is None:
        return _problem(404, f"no session {request.match_info['id']!r}")
    return _json(session.describe(base_url(request)))


async def delete_session(request: web.Request) -> web.Response:
    if not request.app[SESSIONS].delete(request.match_info["id"]):
        return _problem(404, f"no session {request.match_info['id']!r}")
    return _json({"deleted": request.match_info["id"]})


async def reset_session(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    session = sessions.get(request.match_info["id"])
    if session is None:
        return _problem(404, f"no session {request.match_info['id']!r}")
    sessions.reset(session)
    return _json({"reset": session.id})


# --- the clock


def _clock_of(request: web.Request) -> tuple[Clock, Session | None]:
    session = session_of(request)
    return (session.clock, session) if session is not None else (request.app[SESSIONS].world.clock, None)


async def get_clock(request: web.Request) -> web.Response:
    return _json(_clock_of(request)[0].describe())


ClockMove = Callable[[Clock, dict[str, Any]], None]  # moves a clock as a request's body says; ValueError: refused


def moving(move: ClockMove, reads_body: bool = True) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A route that moves the clock of the request's sandbox: on a copy first, so a refused move (400)
    changes nothing; then kept (a session's in the store, for every worker)."""

    async def moved(request: web.Request) -> web.Response:
        clock, session = _clock_of(request)
        candidate = Clock()
        candidate.copy_from(clock)
        try:
            move(candidate, await _body(request) if reads_body else {})
            _within_range(candidate.now())
        except ValueError as exc:
            return _problem(400, str(exc))
        clock.copy_from(candidate)
        if session is not None:
            request.app[SESSIONS].save_clock(session)
        return _json(clock.describe())

    return moved


def _set(clock: Clock, body: dict[str, Any]) -> None:
    clock.copy_from(_clock_from(body))


def _advance(clock: Clock, body: dict[str, Any]) -> None:
    unknown = set(body) - set(_ADVANCE_UNITS)
    if unknown or not body:
        raise ValueError(f"advance by any of {', '.join(_ADVANCE_UNITS)} (numbers; negative goes back)")
    seconds = sum(_number(body[name], name) * _ADVANCE_UNITS[name] for name in body)
    if abs(seconds) > _MAX_ADVANCE_S:
        raise ValueError("the clock moves at most 100 years at once")
    clock.advance(timedelta(seconds=seconds))


def _clock_from(spec: Any) -> Clock:
    """`{"now": ISO 8601 instant, "frozen": true (default) or false}`: a clock there."""
    if not isinstance(spec, dict) or not isinstance(spec.get("now"), str):
        raise ValueError('a clock is {"now": an ISO 8601 instant, "frozen": true or false}')
    unknown = set(spec) - {"now", "frozen"}
    if unknown:
        raise ValueError(f"unknown clock members: {', '.join(sorted(unknown))}; known: now, frozen")
    frozen = spec.get("frozen", True)
    if not isinstance(frozen, bool):
        raise ValueError("frozen must be true or false")
    try:
        instant = datetime.fromisoformat(spec["now"].replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError("now must be an ISO 8601 instant, such as 2026-01-15T15:00:00Z") from exc
    instant = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    _within_range(instant)
    clock = Clock()
    clock.set(instant.astimezone(UTC), running=not frozen)
    return clock


def _within_range(instant: datetime) -> None:
    if not _EARLIEST <= instant < _LATEST:
        raise ValueError("the sandbox clock stays within 2000-01-01 and 2100-01-01")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number")
    return float(value)


def add_session_routes(routes: web.UrlDispatcher, prefix: str, gated: Any) -> None:
    routes.add_get(f"{prefix}/sessions", gated(list_sessions))
    routes.add_post(f"{prefix}/sessions", gated(create_session))
    routes.add_get(f"{prefix}/sessions/{{id}}", gated(get_session))
    routes.add_delete(f"{prefix}/sessions/{{id}}", gated(delete_session))
    routes.add_post(f"{prefix}/sessions/{{id}}/reset", gated(reset_session))
    routes.add_get(f"{prefix}/clock", gated(get_clock))
    routes.add_put(f"{prefix}/clock", gated(moving(_set)))
    routes.add_post(f"{prefix}/clock/advance", gated(moving(_advance)))
    routes.add_post(f"{prefix}/clock/freeze", gated(moving(lambda clock, _: clock.freeze(), reads_body=False)))
    routes.add_post(f"{prefix}/clock/run", gated(moving(lambda clock, _: clock.run(), reads_body=False)))
    routes.add_post(f"{prefix}/clock/real-time", gated(moving(lambda clock, _: clock.follow_real_time(), reads_body=False)))
