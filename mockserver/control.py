"""The /__mock control API: catalog, request journal and verification, reset, faults, health.

Its perimeter, in the order checked (`_perimeter`), keeps web pages out: a page the developer
visits could otherwise read the journal, inject faults or reset state from the browser.

- the `Host` must be a loopback name or address (localhost, *.localhost, 127.0.0.0/8, [::1];
  any port) or one of the setting `allowed_hosts`, else 403: a page reaching the server
  through DNS rebinding sends its own name;
- with a control token set, `Authorization: Bearer <token>` (else 401);
- a write (POST, PUT, PATCH, DELETE) must say `Content-Type: application/json` (else 415):
  a browser sends such a request to another origin only after a preflight, which fails,
  since control routes answer no CORS (cors.py) and no OPTIONS.

`/__mock/live` alone is outside the perimeter: liveness for container probes, which may
use any Host and have no token; it tells nothing but that the server answers.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from .appkeys import APIS, SETTINGS
from .control_sessions import add_session_routes, base_url
from .dashboard import dashboard_page, dashboard_redirect
from .envelopes import problem_json
from .errors import LoadError
from .faults import FaultError
from .journal import Entry, Journal, Matcher
from .mounted import MountedApi
from .sandbox.store import StateFull
from .scenarios import ScenarioError, get_scenario, post_scenario, reinstall_start_up
from .security import NO_SECRETS, SecretMask
from .sessions import SESSIONS, session_of
from .traffic import CONTROL_PREFIX, SECRETS, TRAFFIC, Traffic
from .try_requests import try_requests
from .validation import echo
from .vocabulary import Problem, RouteHandler, Violation, as_sent, json_reply, to_response

DEFAULT_LIMIT = 100
SPEC_TYPES = {".yaml": "application/yaml", ".yml": "application/yaml", ".json": "application/json", ".graphql": "application/graphql"}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONTROL_MEDIA_TYPE = "application/json"
# a Host value: a name or IPv4 address, or an IPv6 address in brackets, then an optional port
_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[^:\[\]]*))(?::[0-9]*)?")


def add_control_routes(app: web.Application, within_limits: Callable[[RouteHandler], RouteHandler]) -> None:
    """Every /__mock route, its handler behind the request limits (the pipeline's first stages)
    and, but for liveness, behind the perimeter."""
    settings = app[SETTINGS]
    hosts = allowed_host_names(settings.allowed_hosts)

    def gated(handler: RouteHandler) -> RouteHandler:
        return within_limits(_perimeter(handler, hosts, settings.control_token))

    routes = app.router
    routes.add_get(f"{CONTROL_PREFIX}/live", within_limits(live), allow_head=True)
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
    add_session_routes(routes, CONTROL_PREFIX, gated)
    routes.add_get(f"{CONTROL_PREFIX}/scenarios", gated(get_scenario))
    routes.add_post(f"{CONTROL_PREFIX}/scenarios", gated(post_scenario))
    routes.add_get(CONTROL_PREFIX, gated(dashboard_redirect))
    routes.add_get(f"{CONTROL_PREFIX}/", gated(dashboard_page))
    routes.add_route("*", f"{CONTROL_PREFIX}/{{tail:.*}}", gated(unknown_control_route))


# --- the perimeter


def _perimeter(handler: RouteHandler, hosts: frozenset[str], token: str | None) -> RouteHandler:
    """`handler` behind the Host, token and media type checks (the module's docstring)."""
    secret = as_sent(token) if token else None

    async def guarded(request: web.Request) -> web.StreamResponse:
        problem = _host_problem(request, hosts)
        if problem is None and secret is not None and not _authorized(request, secret):
            problem = _token_problem()
        if problem is None and request.method in WRITES:
            problem = _media_type_problem(request)
        if problem is not None:
            return _refusal(problem, _mask(request))
        return await handler(request)

    return guarded


def host_name(value: str) -> str | None:
    """The name or address in a Host value, lower case, without port, brackets or a final
    dot; None when the value is not `host[:port]` in ASCII (names on the wire are, IDNs too)."""
    text = value.strip().lower()
    match = _HOST.fullmatch(text) if text.isascii() else None
    if match is None:
        return None
    return match["ipv6"] or match["name"].removesuffix(".") or None


def allowed_host_names(hosts: Iterable[str]) -> frozenset[str]:
    """The names of the setting `allowed_hosts` as `host_name` gives them (a port given there is ignored)."""
    return frozenset(name for name in map(host_name, hosts) if name)


def is_loopback(name: str) -> bool:
    """localhost and its subdomains (RFC 6761: they always resolve to loopback), 127.0.0.0/8 and ::1."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_problem(request: web.Request, hosts: frozenset[str]) -> Problem | None:
    """403 for a Host that is neither loopback nor allowed, or no Host at all (which no browser
    sends). Not 421: that invites a retry on another connection, and nothing is misdirected;
    not 400: the request is well formed, and the server declines to answer under that name."""
    given = request.headers.get("Host")
    name = host_name(given) if given is not None else None
    if name is not None and (name in hosts or is_loopback(name)):
        return None
    shown = "no Host header" if given is None else f"Host {echo(given)}"
    message = (
        f"the control API answers only under a loopback Host (localhost, 127.0.0.1, [::1]) or one of the setting "
        f"allowed_hosts (--allowed-host, MOCKSERVER_ALLOWED_HOSTS); this request has {shown}"
    )
    return Problem(403, message, [Violation("header", "Host", "not a loopback name or address, nor an allowed host")])


def _token_problem() -> Problem:
    return Problem(
        401,
        "the control API needs Authorization: Bearer <control token>",
        [Violation("header", "Authorization", "missing or wrong control token")],
        {"WWW-Authenticate": 'Bearer realm="mockserver-control"'},
    )


def _authorized(request: web.Request, token: bytes) -> bool:
    """The bearer token (or the dashboard link's `?token=`) against the control token, in constant
    time, as the bytes sent."""
    word, _, given = request.headers.get("Authorization", "").partition(" ")
    if word.lower() != "bearer":
        given = request.query.get("token", "") if request.path.rstrip("/") == CONTROL_PREFIX else ""  # the dashboard page's link
    return hmac.compare_digest(as_sent(given.strip()), token)


def _media_type_problem(request: web.Request) -> Problem | None:
    if request.content_type == CONTROL_MEDIA_TYPE:
        return None
    message = (
        f"control writes ({request.method}) need Content-Type: {CONTROL_MEDIA_TYPE}, with a JSON body or none; "
        "other types are refused so that no web page can send one without a CORS preflight"
    )
    return Problem(415, message, [Violation("header", "Content-Type", f"must be {CONTROL_MEDIA_TYPE}")])


def _refusal(problem: Problem, mask: SecretMask) -> web.Response:
    """The problem in problem+json, its message masked: it may quote what the client sent."""
    problem.message = mask.text(problem.message)
    return to_response(problem_json(problem))


def _problem(status: int, message: str, mask: SecretMask) -> web.Response:
    return _refusal(Problem(status, message), mask)


def _mask(request: web.Request) -> SecretMask:
    """Every secret the server knows: what the control API says is masked with it, so no
    configured credential reaches the dashboard, whatever a client sent where."""
    return request.app.get(SECRETS, NO_SECRETS)


def _json(payload: Any, status: int = 200) -> web.Response:
    return to_response(json_reply(status, payload))


async def live(request: web.Request) -> web.Response:
    """Liveness for container probes (Docker's HEALTHCHECK, Kubernetes): no token, any Host, and
    nothing in the answer but that the server answers."""
    return _json({"status": "ok"})


async def health(request: web.Request) -> web.Response:
    """Health for tools and CI, inside the perimeter: the APIs that are mounted, and which process
    answered (with `--workers`, each connection is served by one of several)."""
    return _json({"status": "ok", "apis": [api.name for api in request.app[APIS]], "pid": os.getpid()})


def describe_api(api: MountedApi, base: str, prefix: str = "") -> dict[str, Any]:
    """An API as the dashboard lists it; `prefix`: the session's, which its URLs and examples carry."""
    examples = try_requests(api, base + prefix)
    return {
        "name": api.name,
        "kind": api.kind,
        "baseUrl": base + prefix + api.mount,
        "credentials": api.credential_hints(),
        "auth": api.credential_sets(),
        "wellKnown": api.well_known(),
        "operations": [
            {"method": r.method, "path": r.path, "operation": r.operation, "url": base + prefix + r.path, "example": example.as_dict()}
            for r, example in zip(api.routes(), examples, strict=True)
        ],
        "spec": f"{base}{CONTROL_PREFIX}/apis/{api.name}/spec",
    }


async def list_apis(request: web.Request) -> web.Response:
    session = session_of(request)
    prefix = session.prefix if session is not None else ""
    base = base_url(request)
    return _json({"apis": [describe_api(api, base, prefix) for api in request.app[APIS]]})


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
    journal = _traffic(request).journal
    found = await _matching(journal, matcher)
    mask = _mask(request)
    entries = [mask.json(entry.as_dict()) for entry in found[:limit]]
    return _json({"requests": entries, "total": len(found), "capacity": journal.size})


async def clear_requests(request: web.Request) -> web.Response:
    journal = _traffic(request).journal
    cleared = len(journal)
    journal.clear()
    return _json({"cleared": cleared})


async def count_requests(request: web.Request) -> web.Response:
    try:
        spec = await _json_body(request)
        matcher = _matcher(spec)
    except ValueError as exc:
        return _problem(400, str(exc), mask=_mask(request))
    return _json({"count": len(await _matching(_traffic(request).journal, matcher))})


async def _matching(journal: Journal, matcher: Matcher) -> list[Entry]:
    """The entries `matcher` takes, newest first. A path pattern is matched in a worker thread:
    RE2 is linear but a full journal of long paths still takes a while, and it releases the GIL,
    so other requests go on meanwhile."""
    entries = journal.newest_first()

    def select() -> list[Entry]:
        return [entry for entry in entries if matcher.matches(entry)]

    return select() if matcher.path_regex is None else await asyncio.to_thread(select)


def _traffic(request: web.Request) -> Traffic:
    """The journal and faults of the request's session (the default one's without a prefix)."""
    session = session_of(request)
    return request.app[TRAFFIC] if session is None else session.traffic


async def reset(request: web.Request) -> web.Response:
    """State, journal and faults back to where they started (the session's, under a session's
    prefix); 507 (and nothing else cleared) when the state cannot be written (a full disk)."""
    apis = request.app[APIS]
    session = session_of(request)
    try:
        if session is not None:
            request.app[SESSIONS].reset(session)
            return _json({"reset": [api.name for api in apis], "session": session.id})
        for api in apis:
            api.reset()
        reinstall_start_up(apis, request.app[SETTINGS].scenario)
    except (ScenarioError, LoadError) as exc:
        return _problem(409, f"the start-up scenario no longer installs: {exc}", mask=_mask(request))
    except StateFull as exc:
        return _problem(507, f"the state was not reset: {exc}", mask=_mask(request))
    traffic = _traffic(request)
    traffic.journal.clear()
    traffic.faults.clear()
    return _json({"reset": [api.name for api in apis]})


async def list_faults(request: web.Request) -> web.Response:
    return _json({"faults": _mask(request).json(_traffic(request).faults.listing())})


async def add_fault(request: web.Request) -> web.Response:
    known = {api.name: {route.operation for route in api.routes()} for api in request.app[APIS]}
    try:
        fault = _traffic(request).faults.add(await _json_body(request), known)
    except (ValueError, FaultError) as exc:
        return _problem(400, str(exc), mask=_mask(request))
    return _json(fault.as_dict(), 201)


async def clear_faults(request: web.Request) -> web.Response:
    _traffic(request).faults.clear()
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
