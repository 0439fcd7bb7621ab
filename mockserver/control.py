"""The /__mock control API: catalog, request journal and verification, reset, faults, health.

With a control token set, every control route demands `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from .appkeys import APIS, SETTINGS
from .dashboard import dashboard_page, dashboard_redirect
from .envelopes import Problem, json_reply, problem_json
from .faults import FaultError
from .journal import Matcher
from .mounted import Handler, MountedApi
from .pipeline import to_response
from .security import NO_SECRETS, SecretMask
from .traffic import CONTROL_PREFIX, SECRETS, TRAFFIC
from .validation import Violation

DEFAULT_LIMIT = 100
SPEC_TYPES = {".yaml": "application/yaml", ".yml": "application/yaml", ".json": "application/json", ".graphql": "application/graphql"}


def add_control_routes(app: web.Application, admit: Callable[[Handler], Handler]) -> None:
    """Every /__mock route, its handler behind `admit` (the request limits) and, with a control
    token, behind the token check."""
    token = app[SETTINGS].control_token

    def gated(handler: Handler) -> Handler:
        return admit(_guarded(handler, token) if token else handler)

    routes = app.router
    routes.add_get(f"{CONTROL_PREFIX}/health", gated(health), allow_head=True)
    routes.add_get(f"{CONTROL_PREFIX}/apis", gated(list_apis))
    routes.add_get(f"{CONTROL_PREFIX}/apis/{{name}}/spec", gated(api_spec))
    routes.add_get(f"{CONTROL_PREFIX}/requests", gated(list_requests))
    routes.add_delete(f"{CONTROL_PREFIX}/requests", gated(clear_requests))
    routes.add_post(f"{CONTROL_PREFIX}/requests/count", gated(count_requests))
    routes.add_post(f"{CONTROL_PREFIX}/reset", gated(reset))
    routes.add_get(f"{CONTROL_PREFIX}/faults", gated(list_faults))
    routes.add_post(f"{CONTROL_PREFIX}/faults", gated(add_fault))
    routes.add_delete(f"{CONTROL_PREFIX}/faults", gated(clear_faults))
    routes.add_get(CONTROL_PREFIX, gated(dashboard_redirect))
    routes.add_get(f"{CONTROL_PREFIX}/", gated(dashboard_page))
    routes.add_route("*", f"{CONTROL_PREFIX}/{{tail:.*}}", gated(unknown_control_route))


def _guarded(handler: Handler, token: str) -> Handler:
    """With a control token, /__mock answers only to `Authorization: Bearer <token>`."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not _authorized(request, token):
            problem = Problem(
                401,
                "the control API needs Authorization: Bearer <control token>",
                [Violation("header", "Authorization", "missing or wrong control token")],
                {"WWW-Authenticate": 'Bearer realm="mockserver-control"'},
            )
            return to_response(problem_json(problem))
        return await handler(request)

    return guarded


def _authorized(request: web.Request, token: str) -> bool:
    word, _, given = request.headers.get("Authorization", "").partition(" ")
    if word.lower() != "bearer":
        given = request.query.get("token", "") if request.path.rstrip("/") == CONTROL_PREFIX else ""  # the dashboard page's link
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _problem(status: int, message: str, headers: Mapping[str, str] | None = None, mask: SecretMask | None = None) -> web.Response:
    problem = Problem(status, mask.text(message) if mask else message, [], dict(headers or {}))
    return to_response(problem_json(problem))


def _mask(request: web.Request) -> SecretMask:
    """Every secret the server knows: what the control API says is masked with it, so no
    configured credential reaches the dashboard, whatever a client sent where."""
    return request.app.get(SECRETS, NO_SECRETS)


def _json(payload: Any, status: int = 200) -> web.Response:
    return to_response(json_reply(status, payload))


async def health(request: web.Request) -> web.Response:
    """Liveness for Docker's HEALTHCHECK and CI: the APIs that are mounted, and which process answered
    (with `--workers`, each connection is served by one of several)."""
    return _json({"status": "ok", "apis": [api.name for api in request.app[APIS]], "pid": os.getpid()})


def describe_api(api: MountedApi, base: str) -> dict[str, Any]:
    return {
        "name": api.name,
        "kind": api.kind,
        "baseUrl": base + api.mount,
        "credentials": api.credential_hints(),
        "auth": api.credential_sets(),
        "wellKnown": api.well_known(),
        "operations": [{"method": r.method, "path": r.path, "operation": r.operation, "url": base + r.path} for r in api.routes()],
        "spec": f"{base}{CONTROL_PREFIX}/apis/{api.name}/spec",
    }


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def list_apis(request: web.Request) -> web.Response:
    base = base_url(request)
    return _json({"apis": [describe_api(api, base) for api in request.app[APIS]]})


def _api_named(request: web.Request, name: str) -> MountedApi | None:
    return next((api for api in request.app[APIS] if api.name == name), None)


async def api_spec(request: web.Request) -> web.Response:
    api = _api_named(request, request.match_info["name"])
    if api is None:
        return _problem(404, f"no API named {request.match_info['name']!r}", mask=_mask(request))
    content_type = SPEC_TYPES.get(api.source.suffix, "text/plain")
    return web.Response(body=api.source.read_bytes(), content_type=content_type, charset="utf-8")


async def list_requests(request: web.Request) -> web.Response:
    query = request.query
    try:
        matcher = _matcher(
            {
                "api": query.get("api"),
                "operation": query.get("operation"),
                "method": query.get("method"),
                "path": query.get("path"),
                "status": query.get("status"),
                "since": query.get("since"),
            }
        )
        limit = _integer(query.get("limit", DEFAULT_LIMIT), "limit")
        if limit < 1:
            raise ValueError("limit must be at least 1")
    except ValueError as exc:
        return _problem(400, str(exc), mask=_mask(request))
    journal = request.app[TRAFFIC].journal
    found = [entry for entry in journal.newest_first() if matcher.matches(entry)]
    mask = _mask(request)
    entries = [mask.json(entry.as_dict()) for entry in found[:limit]]
    return _json({"requests": entries, "total": len(found), "capacity": journal.size})


async def clear_requests(request: web.Request) -> web.Response:
    journal = request.app[TRAFFIC].journal
    cleared = len(journal)
    journal.clear()
    return _json({"cleared": cleared})


async def count_requests(request: web.Request) -> web.Response:
    try:
        spec = await _json_body(request)
        matcher = _matcher(spec)
    except ValueError as exc:
        return _problem(400, str(exc), mask=_mask(request))
    journal = request.app[TRAFFIC].journal
    return _json({"count": sum(1 for entry in journal.newest_first() if matcher.matches(entry))})


async def reset(request: web.Request) -> web.Response:
    """State, journal and faults back to where they started."""
    apis = request.app[APIS]
    for api in apis:
        api.reset()
    traffic = request.app[TRAFFIC]
    traffic.journal.clear()
    traffic.faults.clear()
    return _json({"reset": [api.name for api in apis]})


async def list_faults(request: web.Request) -> web.Response:
    return _json({"faults": _mask(request).json(request.app[TRAFFIC].faults.listing())})


async def add_fault(request: web.Request) -> web.Response:
    known = {api.name: {route.operation for route in api.routes()} for api in request.app[APIS]}
    try:
        fault = request.app[TRAFFIC].faults.add(await _json_body(request), known)
    except (ValueError, FaultError) as exc:
        return _problem(400, str(exc), mask=_mask(request))
    return _json(fault.as_dict(), 201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[TRAFFIC].faults.clear()
    return _json({"faults": []})


async def unknown_control_route(request: web.Request) -> web.Response:
    return _problem(404, f"no control route {request.method} {request.path}", mask=_mask(request))


async def _json_body(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the body is not valid JSON: {exc}") from exc


_MATCHER_FIELDS = ("api", "operation", "method", "path", "status", "since", "query", "headers")


def _matcher(spec: Any) -> Matcher:
    if not isinstance(spec, dict):
        raise ValueError("a matcher is a JSON object")
    unknown = set(spec) - set(_MATCHER_FIELDS)
    if unknown:
        raise ValueError(f"unknown matcher fields: {', '.join(sorted(unknown))}; known: {', '.join(_MATCHER_FIELDS)}")
    values = {key: value for key, value in spec.items() if value is not None}
    for key in ("api", "operation", "method", "path"):
        if key in values and not isinstance(values[key], str):
            raise ValueError(f"{key} must be a string")
    for key in ("query", "headers"):
        if key in values and not (isinstance(values[key], dict) and all(isinstance(v, str) for v in values[key].values())):
            raise ValueError(f"{key} must map names to string values")
    if "status" in values:
        values["status"] = _integer(values["status"], "status")
    if "since" in values:
        values["since"] = _instant(values["since"])
    return Matcher(**values)


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{name} must be an integer")
    try:
        return int(value)  # its error would quote the value: the message below does not
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer") from exc


def _instant(value: Any) -> float:
    """`since`: epoch seconds, or an ISO 8601 instant."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError("since must be epoch seconds or an ISO 8601 instant") from exc
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise ValueError("since must be epoch seconds or an ISO 8601 instant")
