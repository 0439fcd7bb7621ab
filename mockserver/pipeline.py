"""The request pipeline of one operation: authenticate -> validate -> control -> respond.

Each stage returns data (a Reply, or a Problem for the API's envelope); nothing raises
through another stage, and no input reaches the client as a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import MultiDict

from .cors import is_preflight, preflight_response
from .request_memo import Validated, Verdict
from .responses import Preferences, read_preferences
from .sandbox.store import StateFull
from .security import AuthOutcome, AuthRequest
from .seeding import stable_seed
from .vocabulary import Call, Identity, Problem, Reply, RouteHandler, Violation, to_response

if TYPE_CHECKING:
    from .plan import ApiRuntime, OperationPlan

log = logging.getLogger("mockserver")
_EMPTY: Mapping[str, str] = MultiDict()


def problem_response(api: ApiRuntime, problem: Problem) -> web.Response:
    return to_response(api.envelope(problem))


def summarize(violations: list[Violation]) -> str:
    return "; ".join(v.message for v in violations)


async def run_operation(plan: OperationPlan, request: web.Request) -> web.Response:
    """Authentication (every time: credentials are compared in constant time), then the verdict
    on the rest of the request, remembered when the request has no body (request_memo.py).
    A write the state cannot take answers 507, a bug 500, both in the API's envelope."""
    try:
        api = plan.api
        if api.vendor.authenticate is None:
            outcome = plan.security.check(request.headers, request.query, request.cookies if plan.needs_cookies else _EMPTY)
        else:
            raw = await _raw_body(api, request) if request.body_exists else b""
            if isinstance(raw, web.Response):
                return raw
            outcome = _vendor_authentication(plan, request, raw)
        if outcome.status != 200:
            problem = Problem(outcome.status, outcome.message, outcome.violations)
            if outcome.status == 401 and plan.security.challenge:
                problem.headers["WWW-Authenticate"] = plan.security.challenge
            return problem_response(api, problem)

        verdict: Verdict | web.Response | None = None
        key = (
            api.memo.key(id(plan), plan.deciding_headers, request, outcome.identity) if plan.memoized and not request.body_exists else None
        )
        if key is not None:
            verdict = api.memo.get(key)
        if verdict is None:
            verdict = await _verdict(plan, request, outcome.identity)
            if isinstance(verdict, web.Response):
                return verdict
            if key is not None:
                api.memo.put(key, verdict)
        if isinstance(verdict, Validated):
            return to_response(_handled(plan, request, verdict))
        return to_response(verdict)
    except web.HTTPException:
        raise
    except StateFull as exc:  # the operator's problem (max_state_bytes, the disk), not a bug: one line, no traceback
        log.warning("%s %s: %s", plan.method, plan.path, exc)
        return problem_response(plan.api, Problem(507, "the sandbox state is full: this write was not stored"))
    except Exception:  # a bug must still answer in the vendor's envelope, never as a bare traceback
        log.exception("unhandled error in %s %s", plan.method, plan.path)
        return problem_response(plan.api, Problem(500, "the mock server failed to handle this request"))


async def _verdict(plan: OperationPlan, request: web.Request, identity: Identity | None) -> Verdict | web.Response:
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
        return api.envelope(Problem(api.vendor.validation_status, summarize(problems), problems))
    settled = _settled(plan, request, preferences, path_values)
    return settled if settled is not None else Validated(identity, params, body, preferences, path_values)


def _vendor_authentication(plan: OperationPlan, request: web.Request, body: bytes) -> AuthOutcome:
    """The vendor's own check (a signature over the raw request and its `body`)."""
    api = plan.api
    assert api.vendor.authenticate is not None
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
        api.world,
    )
    return api.vendor.authenticate(view)


def _path_values(plan: OperationPlan, request: web.Request) -> dict[str, str]:
    match = request.match_info
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
    if not request.body_exists:
        return plan.body.check(None, "", b"", problems)
    content_type = request.headers.get("Content-Type", "")
    media = plan.body.find(content_type) if content_type else None
    if media is None:
        allowed = ", ".join(plan.body.media_types)
        shown = f"Content-Type {content_type.split(';')[0]!r}" if content_type else "a missing Content-Type"
        return problem_response(
            plan.api,
            Problem(
                415,
                f"{shown} is not supported; send one of: {allowed}",
                [Violation("header", "Content-Type", f"expected one of: {allowed}")],
            ),
        )
    raw = await _raw_body(plan.api, request)
    if isinstance(raw, web.Response):
        return raw
    return plan.body.check(media, content_type, raw, problems)


def _too_large(api: ApiRuntime, limit: int) -> web.Response:
    return problem_response(
        api, Problem(413, f"request body is larger than the limit of {limit} bytes", [Violation("body", "", f"at most {limit} bytes")])
    )


def _settled(plan: OperationPlan, request: web.Request, preferences: Preferences, path_values: Mapping[str, str]) -> Reply | None:
    """The answer when no handler is needed: Prefer header -> fixture -> (no handler) spec example -> generated."""
    if preferences.steers:
        return _preferred(plan, request, preferences)
    for entry, reply in plan.fixtures:
        if entry.matches(request.query, request.headers, path_values):
            return reply
    if plan.handler is None:
        return _documented(plan, request, preferences)
    return None


def _handled(plan: OperationPlan, request: web.Request, validated: Validated) -> Reply:
    """The sandbox handler's answer; the spec's when it has none for this request."""
    if plan.handler is not None:
        api = plan.api
        reply = plan.handler(
            Call(plan.key, validated.params, validated.body, validated.identity, api.world, api.state, api.vendor_settings)
        )
        if reply is not None:
            return reply
    return _documented(plan, request, validated.preferences)


def _documented(plan: OperationPlan, request: web.Request, preferences: Preferences) -> Reply:
    """The spec's example of the success response, else one generated from its schema."""
    book = plan.responses
    if book.success is None:
        return Reply(200, b"", "")
    return book.example_reply(book.success) or book.generated_reply(book.success, _request_seed(plan, request, preferences))


def _request_seed(plan: OperationPlan, request: web.Request, preferences: Preferences) -> int:
    if preferences.seed is not None:
        return preferences.seed
    return stable_seed(plan.api.world.seed, plan.api.name, plan.key, request.path_qs)


def _preferred(plan: OperationPlan, request: web.Request, preferences: Preferences) -> Reply:
    book = plan.responses
    spec = book.for_status(preferences.code) if preferences.code is not None else book.success
    if spec is None:
        # no documented response for that status: the vendor's own envelope for it
        code = preferences.code or 200
        return plan.api.envelope(Problem(code, f"{code} requested with Prefer"))
    status = preferences.code
    if preferences.example is not None:
        reply = book.example_reply(spec, preferences.example, status)
        if reply is None:
            names = ", ".join(spec.examples) or "none"
            return plan.api.envelope(
                Problem(
                    plan.api.vendor.validation_status,
                    f"Prefer example {preferences.example!r} does not exist for this response (examples: {names})",
                    [Violation("header", "Prefer", f"examples: {names}")],
                )
            )
        return reply
    if not preferences.dynamic:
        reply = book.example_reply(spec, None, status)
        if reply is not None:
            return reply
    if spec.informative:
        return book.generated_reply(spec, _request_seed(plan, request, preferences), status)
    code = status or spec.status or 200
    return plan.api.envelope(Problem(code, f"{code} requested with Prefer"))


def allowed_methods(api: ApiRuntime, path: str) -> list[str]:
    """Methods the API defines for a concrete path (for 405 and CORS preflight)."""
    relative = path[len(api.mount) :] or "/"
    return sorted({plan.method for plan in api.plans if plan.path_regex.fullmatch(relative)})


async def api_fallback(api: ApiRuntime, request: web.Request) -> web.Response:
    """Any request under an API's mount that no operation took: 404, or 405 with Allow."""
    methods = allowed_methods(api, request.path)
    if not methods:
        message = f"no operation at {request.path} in the {api.name} API"
        return problem_response(api, Problem(404, message, [Violation("request", "path", message)]))
    allow = ", ".join(methods)
    message = f"{request.method} is not allowed on {request.path}; allowed: {allow}"
    return problem_response(api, Problem(405, message, [Violation("request", "method", message)], {"Allow": allow}))


def operation_handler(plan: OperationPlan) -> RouteHandler:
    """`run_operation` bound to its plan: no coroutine of its own per request."""
    return partial(run_operation, plan)


def fallback_handler(runtime: ApiRuntime) -> RouteHandler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if is_preflight(request):
            methods = allowed_methods(runtime, request.path)
            if methods:
                return preflight_response(request, methods)
        return await api_fallback(runtime, request)

    return handle
