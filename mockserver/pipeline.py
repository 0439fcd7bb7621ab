"""The request's way, outermost first: `STAGES`, read top to bottom.

Each stage wraps the next one once per route, when the route is added (`compose`), around the
route's endpoint: there is no aiohttp middleware, so a request pays for the checks its route
needs and for no layer it does not. A stage that does not apply to a route leaves itself out of
that route's chain. An OpenAPI operation's endpoint runs its own steps in one frame, in order.

| stage          | what it does                                                            | routes           |
|----------------|-------------------------------------------------------------------------|------------------|
| cors           | echoes the Origin on whatever comes back (never under /__mock)          | all              |
| limits         | target, headers, body: 414/431/413/400/408 before anything reads more   | all              |
| recording      | masks secrets in what comes back, journals it, writes the access log    | an API's         |
| faults         | injected latency, status or dropped connection (before authentication)  | an API's         |
| (endpoint)     | an OpenAPI operation (`operation`, its steps in this order):            |                  |
|  authentication|   the spec's schemes or the vendor's signature check, every time (a body  |                  |
|                |   FastAPI cannot parse is answered before its refusal: fastapi_bodies)  |                  |
|  memo          |   a bodiless request's remembered verdict (request_memo.py)             |                  |
|  validation    |   parameters, body, preferences, vendor rules: a 4xx, or the verdict    |                  |
|  answer choice |   Prefer, fixture, sandbox handler, example, generated (answers.py)     |                  |
|  failures      |   around them: a full state is 507, a bug 500, in the API's envelope    |                  |
|                | or the GraphQL engine, or an API's 404/405 catch-all (routing.py)       |                  |

The control API (/__mock) composes only `cors` (which leaves it out) and `limits` before its
own perimeter (control.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from aiohttp import web

from .answers import handled
from .cors import add_cors_headers
from .limits import Limits, body_problem, refusal, repeated_credential_problem, request_problem
from .operation_checks import refusal as authentication_refusal
from .operation_checks import scheme_check, unparsed_body, vendor_check, verdict_of
from .request_memo import Validated
from .sandbox.store import StateFull
from .security import AuthOutcome, SecretMask
from .sessions import session_of
from .traffic import DROPPED, Recorder, Traffic, body_for_journal, mask_response, may_quote_its_request
from .vocabulary import Problem, Reply, RouteHandler, to_response

if TYPE_CHECKING:
    from .mounted import MountedApi
    from .plan import OperationPlan

log = logging.getLogger("mockserver")


class Dropped(web.Response):
    """What the faults stage answers when it closed the connection under the request."""


@dataclass(frozen=True, slots=True)
class Route:
    """What a stage knows of the route it is composed into, worked out once at start-up."""

    api: MountedApi | None  # None: no API's (/__mock, the unknown-API catch-all, unroutable targets)
    operation: str | None  # None for an API's catch-all
    recorded: bool  # journalled and logged (not /__mock, nor unroutable targets)
    limits: Limits
    traffic: Traffic
    secrets: SecretMask


class Stage(NamedTuple):
    name: str
    wrap: Callable[[RouteHandler, Route], RouteHandler]  # the next stage -> this one around it (or the next itself)


def compose(endpoint: RouteHandler, route: Route) -> RouteHandler:
    """`endpoint` inside every stage that applies to `route`, the first of STAGES outermost."""
    handler = endpoint
    for stage in reversed(STAGES):
        handler = stage.wrap(handler, route)
    return handler


# --- cors


def cors(next: RouteHandler, route: Route) -> RouteHandler:
    async def with_cors(request: web.Request) -> web.StreamResponse:
        response = await next(request)
        add_cors_headers(request, response)
        return response

    return with_cors


# --- limits


def limits(next: RouteHandler, route: Route) -> RouteHandler:
    """Refuses what is over a limit in the envelope of the route's API (problem+json without one)."""
    api, bounds = route.api, route.limits
    lenient = api is not None and api.framework.lenient_requests
    credentials = tuple(sorted(api.credential_fields)) if api is not None and not lenient else ()

    async def within_limits(request: web.Request) -> web.StreamResponse:
        problem = request_problem(request, bounds, strict_target=not lenient)
        if problem is None and request.body_exists:
            problem = await body_problem(request, bounds)
        if problem is None and credentials:
            problem = repeated_credential_problem(request, credentials)
        if problem is None:
            return await next(request)
        response = refusal(api, problem)
        if problem.status == 408:  # the rest of the body may still come: it is not read
            response.force_close()
        return response

    return within_limits


# --- recording


def recording(next: RouteHandler, route: Route) -> RouteHandler:
    """What comes back, masked when it may quote a secret, then journalled and logged (traffic.py)."""
    if not route.recorded:
        return next
    recorder = Recorder.of(route.traffic.journal, route.secrets, route.api, route.operation)
    secrets, graphql = route.secrets, recorder.graphql

    async def recorded(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        response = await next(request)
        dropped = type(response) is Dropped
        if not dropped and (graphql or response.status >= 400 or (request.body_exists and may_quote_its_request(response))):
            mask_response(response, secrets)
        session = session_of(request)
        journal = recorder.journal if session is None else session.traffic.journal
        body = await body_for_journal(request) if journal.size > 0 and request.body_exists else None
        recorder.record(request, DROPPED if dropped else response.status, started, body, journal, None if dropped else response)
        return response

    return recorded


# --- faults


def faults(next: RouteHandler, route: Route) -> RouteHandler:
    """A fault injected through /__mock/faults for this API and operation: a latency, then a dropped
    connection or an answer with the fault's status; else the request goes on."""
    api = route.api
    if api is None:
        return next
    installed = route.traffic.faults

    async def with_faults(request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        faults = installed if session is None else session.traffic.faults
        effect = faults.effect_for(api.name, route.operation) if faults else None
        if effect is None:
            return await next(request)
        if effect.delay_s:
            await asyncio.sleep(effect.delay_s)
        if effect.drop:
            if request.transport is not None:
                request.transport.abort()
            return Dropped(status=499)  # never reaches the client: the connection is gone
        if effect.status is not None:
            return api.error_response(effect.status, f"fault injected through /__mock/faults: {effect.status}")
        return await next(request)

    return with_faults


# --- the endpoint of an OpenAPI operation


def operation(plan: OperationPlan) -> RouteHandler:
    """An operation's own steps, in this order, in one frame (a wrapper each would cost a coroutine
    per request): authentication, every time; the memo of a bodiless request's verdict; validation
    (parameters, body, preferences, the vendor's rules) when the memo does not know it; answer
    choice (answers.py). Around them, no failure reaches the client as a bare 500: a write the
    state cannot take is 507 (the operator's problem: one line, no traceback), a bug 500, both in
    the API's envelope."""
    api = plan.api
    memo = api.memo if plan.memoized else None
    signed = api.vendor.authenticate is not None  # the vendor checks the raw request itself
    body_first = api.framework.fastapi_bodies and plan.body is not None

    async def operated(request: web.Request) -> web.StreamResponse:
        try:
            outcome = await vendor_check(plan, request) if signed else scheme_check(plan, request)
            if not isinstance(outcome, AuthOutcome):  # a finished answer (413)
                return outcome
            if outcome.status != 200:
                unparsed = await unparsed_body(plan, request) if body_first else None
                return unparsed or authentication_refusal(plan, outcome)
            # a session's request is decided afresh: its answers may be shaped at run time (scenarios)
            fresh = memo is None or request.body_exists or session_of(request) is not None
            key = None if fresh else memo.key(id(plan), plan.deciding_headers, request, outcome.identity)
            verdict = memo.get(key) if key is not None else None  # type: ignore[union-attr]
            if verdict is None:
                checked = await verdict_of(plan, request, outcome.identity)
                if not isinstance(checked, (Validated, Reply)):  # a finished answer (413, 415)
                    return checked
                verdict = checked
                if key is not None:
                    memo.put(key, verdict)  # type: ignore[union-attr]
            return to_response(handled(plan, request, verdict) if isinstance(verdict, Validated) else verdict)
        except web.HTTPException:
            raise
        except StateFull as exc:
            log.warning("%s %s: %s", plan.method, plan.path, exc)
            return to_response(api.envelope(Problem(507, "the sandbox state is full: this write was not stored")))
        except Exception:
            log.exception("unhandled error in %s %s", plan.method, plan.path)
            return to_response(api.envelope(Problem(500, "the mock server failed to handle this request")))

    return operated


STAGES: tuple[Stage, ...] = (
    Stage("cors", cors),
    Stage("limits", limits),
    Stage("recording", recording),
    Stage("faults", faults),
)
