"""The checks of an OpenAPI operation's request, after the request limits: who sends it
(authentication, every time: credentials are compared in constant time) and what it asks
(validation of parameters, body and preferences, then the vendor's rules, giving its verdict).

Each returns data (an AuthOutcome, a Verdict) or a finished response in the API's envelope
(413, 415): nothing raises through to the client as a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import MultiDict

from .answers import settled
from .request_memo import Validated, Verdict
from .responses import read_preferences
from .security import AuthOutcome, AuthRequest
from .sessions import sandbox_of, session_of
from .vocabulary import Identity, Problem, Violation, to_response

if TYPE_CHECKING:
    from .plan import ApiRuntime, OperationPlan

_EMPTY: Mapping[str, str] = MultiDict()


def scheme_check(plan: OperationPlan, request: web.Request) -> AuthOutcome:
    """The spec's security schemes."""
    return plan.security.check(request.headers, request.query, request.cookies if plan.needs_cookies else _EMPTY)


async def vendor_check(plan: OperationPlan, request: web.Request) -> AuthOutcome | web.Response:
    """The vendor's own check over the raw request (a signature over the method, path and body);
    a body over the limit is a finished 413."""
    raw = await _raw_body(plan.api, request) if request.body_exists else b""
    if isinstance(raw, web.Response):
        return raw
    return _vendor_authentication(plan, request, raw)


def refusal(plan: OperationPlan, outcome: AuthOutcome) -> web.Response:
    """A failed authentication in the API's envelope, with the scheme's challenge on a 401."""
    problem = Problem(outcome.status, outcome.message, outcome.violations)
    if outcome.status == 401 and plan.security.challenge:
        problem.headers["WWW-Authenticate"] = plan.security.challenge
    return _problem_response(plan.api, problem)


async def unparsed_body(plan: OperationPlan, request: web.Request) -> web.Response | None:
    """The answer to a body that cannot be parsed at all (not JSON, not a form), else None: asked
    before a failed authentication is answered when the framework parses the body before it
    authenticates (FastAPI: the body is read before the security dependencies run)."""
    if plan.body is None or not request.body_exists:
        return None
    problems: list[Violation] = []
    read = await _read_body(plan, request, problems)
    if isinstance(read, web.Response):  # over the size limit (413) whoever sends it; another media type (415)
        return read if read.status == 413 else None  # is FastAPI's model to refuse, after authentication
    malformed = [v for v in problems if v.reason == "malformed"]
    if not malformed:
        return None
    return _problem_response(plan.api, Problem(plan.api.vendor.validation_status, _summarize(malformed), malformed))


async def verdict_of(plan: OperationPlan, request: web.Request, identity: Identity | None) -> Verdict | web.Response:
    """Validation of an authenticated request: its answer when that settles it, else what the handler needs."""
    api = plan.api
    headers = request.headers
    query = request.query
    cookies = request.cookies if plan.needs_cookies else _EMPTY
    problems: list[Violation] = []
    if api.vendor.strict_query:
        allowed = plan.query_names
        problems.extend(
            Violation("query", name, f"query parameter {name!r} is not supported by this operation", "unsupported")
            for name in dict.fromkeys(query)
            if name not in allowed
        )
    params: dict[str, dict[str, Any]] = {"query": {}, "path": {}, "header": {}, "cookie": {}}
    path_values = _path_values(plan, request) if plan.path_names else _EMPTY
    for checker in plan.params:
        location = checker.location
        source = query if location == "query" else headers if location == "header" else path_values if location == "path" else cookies
        checker.check(checker.read(source), params[location], problems)

    body: Any = None
    if plan.body is not None:
        early = await _read_body(plan, request, problems)
        if isinstance(early, web.Response):
            return early
        body = early

    preferences, preference_problems = read_preferences(headers.get("Prefer"), query)
    problems.extend(preference_problems)
    if problems:
        return api.envelope(Problem(api.vendor.validation_status, _summarize(problems), problems))
    if plan.rules:  # the vendor's own rules, before any answer is chosen (Prefer included)
        call = api.call(plan.key, params, body, identity, sandbox_of(api, session_of(request)))
        for rule in plan.rules:
            broken = rule(call)
            if broken is not None:
                return broken
    answer = settled(plan, request, preferences, path_values)
    return answer if answer is not None else Validated(identity, params, body, preferences, path_values)


def _vendor_authentication(plan: OperationPlan, request: web.Request, body: bytes) -> AuthOutcome:
    """The vendor's own check (a signature over the raw request and its `body`)."""
    api = plan.api
    assert api.vendor.authenticate is not None
    session = session_of(request)
    view = AuthRequest(
        plan.key,
        plan.security.open,
        request.method,
        request.raw_path.partition("?")[0],  # as the client sent it: that is what it signed
        api.mount,
        request.query,
        request.headers,
        body,
        api.identities,
        api.settings,
        api.world if session is None else session.world,
        "" if session is None else session.prefix,
    )
    return api.vendor.authenticate(view)


def _path_values(plan: OperationPlan, request: web.Request) -> dict[str, str]:
    match: Mapping[str, str] = request.match_info
    if "_0" not in match:  # routed on its decoded path by the API's catch-all (routing.decoded_route)
        found = plan.path_regex.fullmatch(request.path[len(plan.api.mount) :])
        match = found.groupdict() if found is not None else {}
    return {name: match[f"_{index}"] for index, name in enumerate(plan.path_names)}


async def _raw_body(api: ApiRuntime, request: web.Request) -> bytes | web.Response:
    """The request body within the size limit (aiohttp keeps it for later reads), or a finished 413."""
    limit = api.settings.max_body_bytes
    if not request.body_exists:
        return b""
    if request.content_length is not None and request.content_length > limit:
        return _too_large(api, limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _too_large(api, limit)


async def _read_body(plan: OperationPlan, request: web.Request, problems: list[Violation]) -> Any:
    """The parsed body, or a finished 413/415 response."""
    assert plan.body is not None
    content_type = request.headers.get("Content-Type", "")
    media = plan.body.find(content_type) if content_type else None
    if not request.body_exists:
        return plan.body.check(media, content_type, b"", problems)
    raw = await _raw_body(plan.api, request)  # already read within the limit: kept by aiohttp
    if isinstance(raw, web.Response):
        return raw
    if media is None:  # the body goes with the violation: an envelope may quote it (FastAPI's does)
        allowed = ", ".join(plan.body.media_types)
        shown = f"Content-Type {content_type.split(';')[0]!r}" if content_type else "a missing Content-Type"
        sent = content_type.split(";")[0].strip().lower()  # the violation's `expected`: what came instead
        violation = Violation("header", "Content-Type", f"expected one of: {allowed}", "unsupported", "mediaType", sent, raw)
        return _problem_response(plan.api, Problem(415, f"{shown} is not supported; send one of: {allowed}", [violation]))
    return plan.body.check(media, content_type, raw, problems)


def _too_large(api: ApiRuntime, limit: int) -> web.Response:
    return _problem_response(
        api, Problem(413, f"request body is larger than the limit of {limit} bytes", [Violation("body", "", f"at most {limit} bytes")])
    )


def _summarize(violations: list[Violation]) -> str:
    return "; ".join(v.message for v in violations)


def _problem_response(api: ApiRuntime, problem: Problem) -> web.Response:
    return to_response(api.envelope(problem))
