"""Which answer a valid request gets, in this order (as Prism's negotiator does):

1. the client's `Prefer` header (or its `__code` / `__example` query stand-ins): a status, a
   named example, generated data;
2. a fixture whose match fits the request: the session's own (runtime_fixtures.py), then the
   fixture files' (fixtures/<api>/*.yaml);
3. the vendor's sandbox handler (vendors/<name>), when it answers (None: the spec's answer);
4. the spec's example of the success response;
5. data generated from the success response's schema, seeded by the request.

A preference is honoured only after authentication and validation: a bad request still gets its 4xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from . import runtime_fixtures
from .request_memo import Validated
from .responses import Preferences
from .seeding import stable_seed
from .sessions import sandbox_of, session_of
from .vocabulary import Call, Problem, Reply, Violation

if TYPE_CHECKING:
    from .plan import OperationPlan


def settled(plan: OperationPlan, request: web.Request, preferences: Preferences, path_values: Mapping[str, str]) -> Reply | None:
    """The answer when no sandbox handler is needed (1, 2, and 4-5 for an operation without one);
    None when the handler decides."""
    if preferences.steers:
        return preferred(plan, request, preferences)
    session = session_of(request)
    if session is not None:  # a session's own fixtures come first (runtime_fixtures.py)
        made = runtime_fixtures.answer(plan, session.state(plan.api.name), request.query, request.headers, path_values)
        if made is not None:
            return made
    for entry, reply in plan.fixtures:
        if entry.matches(request.query, request.headers, path_values):
            return reply
    if plan.handler is None:
        return documented(plan, request, preferences)
    return None


def handled(plan: OperationPlan, request: web.Request, validated: Validated) -> Reply:
    """The sandbox handler's answer (3); the spec's (4-5) when it has none for this request."""
    if plan.handler is not None:
        api = plan.api  # the Call built here, not by api.call: this runs on every handled request
        world, state = sandbox_of(api, session_of(request))
        reply = plan.handler(Call(plan.key, validated.params, validated.body, validated.identity, world, state, api.vendor_settings))
        if reply is not None:
            return reply
    return documented(plan, request, validated.preferences)


def documented(plan: OperationPlan, request: web.Request, preferences: Preferences) -> Reply:
    """The spec's example of the success response, else one generated from its schema."""
    book = plan.responses
    if book.success is None:
        return Reply(200, b"", "")
    return book.example_reply(book.success) or book.generated_reply(book.success, _request_seed(plan, request, preferences))


def preferred(plan: OperationPlan, request: web.Request, preferences: Preferences) -> Reply:
    """What `Prefer` asks for: a documented status, a named example, or generated data."""
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


def _request_seed(plan: OperationPlan, request: web.Request, preferences: Preferences) -> int:
    if preferences.seed is not None:
        return preferences.seed
    return stable_seed(plan.api.world.seed, plan.api.name, plan.key, request.path_qs)
