"""The request's way, outermost first: `STAGES`, read top to bottom.

Each stage wraps the next one once per route, when the route is added (`compose`): there is no
aiohttp middleware, so a request pays for the checks its route needs and for no layer it does
not. A stage that does not apply to a route leaves itself out of that route's chain.

| stage          | what it does                                                            | routes           |
|----------------|-------------------------------------------------------------------------|------------------|
| cors           | echoes the Origin on whatever comes back (never under /__mock)          | all              |
| limits         | target, headers, body: 414/431/413/400/408 before anything reads more   | all              |
| recording      | masks secrets in what comes back, journals it, writes the access log    | an API's         |
| faults         | injected latency, status or dropped connection (before authentication)  | an API's         |
| failures       | a full state is 507, a bug 500, both in the API's envelope              | an operation's   |
| authentication | the spec's schemes or the vendor's signature check, every time          | an operation's   |
| memo           | a repeated request's remembered verdict (request_memo.py)               | bodiless ones    |
| validation     | parameters, body, preferences, vendor rules: a 4xx, or the verdict      | an operation's   |
| (endpoint)     | answer choice (answers.py), the GraphQL engine, the 404/405 catch-all   |                  |

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
from .operation_checks import authenticate, verdict_of
from .operation_checks import refusal as authentication_refusal
from .request_memo import Validated, Verdict
from .sandbox.store import StateFull
from .security import AuthOutcome, SecretMask
from .traffic import DROPPED, Traffic, body_for_journal, mask_response, record
from .vocabulary import Identity, Problem, Reply, RouteHandler, to_response

if TYPE_CHECKING:
    from .mounted import MountedApi
    from .plan import OperationPlan

log = logging.getLogger("mockserver")
IDENTITY = web.RequestKey("mock_identity", Identity)  # who authentication found (None: an open operation)
VERDICT = web.RequestKey("mock_verdict", object)  # the memo's or validation's Verdict, for the endpoint


class Dropped(web.Response):
    """What the faults stage answers when it closed the connection under the request."""


@dataclass(frozen=True, slots=True)
class Route:
    """What a stage knows of the route it is composed into, worked out once at start-up."""

    api: MountedApi | None  # None: no API's (/__mock, the unknown-API catch-all, unroutable targets)
    operation: str | None  # None for an API's catch-all
    plan: OperationPlan | None  # an OpenAPI operation: the operation's stages apply
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
    credentials = tuple(sorted(api.credential_fields)) if api is not None else ()

    async def within_limits(request: web.Request) -> web.StreamResponse:
        problem = request_problem(request, bounds)
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
    api, secrets, journal = route.api, route.secrets, route.traffic.journal
    # A GraphQL answer can quote its input even in a 200 (errors next to data), so every one is masked.
    graphql = api is not None and api.kind == "graphql"

    async def recorded(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        response = await next(request)
        status = DROPPED if type(response) is Dropped else response.status
        if status != DROPPED:
            mask_response(request, response, secrets, graphql)
        body = await body_for_journal(request) if journal.size > 0 and request.body_exists else None
        record(request, route.api, route.operation, graphql, status, started, body, journal, secrets)
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
        effect = installed.effect_for(api.name, route.operation) if installed else None
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


# --- failures


def failures(next: RouteHandler, route: Route) -> RouteHandler:
    """No input reaches the client as a bare 500: a write the state cannot take is 507 (the
    operator's problem: one line, no traceback), a bug 500, both in the API's envelope."""
    plan = route.plan
    if plan is None:
        return next

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await next(request)
        except web.HTTPException:
            raise
        except StateFull as exc:
            log.warning("%s %s: %s", plan.method, plan.path, exc)
            return to_response(plan.api.envelope(Problem(507, "the sandbox state is full: this write was not stored")))
        except Exception:
            log.exception("unhandled error in %s %s", plan.method, plan.path)
            return to_response(plan.api.envelope(Problem(500, "the mock server failed to handle this request")))

    return guarded


# --- authentication


def authentication(next: RouteHandler, route: Route) -> RouteHandler:
    plan = route.plan
    if plan is None:
        return next

    async def authenticated(request: web.Request) -> web.StreamResponse:
        outcome = await authenticate(plan, request)
        if not isinstance(outcome, AuthOutcome):  # a finished answer (413)
            return outcome
        if outcome.status != 200:
            return authentication_refusal(plan, outcome)
        request[IDENTITY] = outcome.identity
        return await next(request)

    return authenticated


# --- memo


def memo(next: RouteHandler, route: Route) -> RouteHandler:
    """The verdict on a request without a body, remembered by its raw target, identity and
    deciding headers: validation is skipped when it is known (authentication never is)."""
    plan = route.plan
    if plan is None or not plan.memoized:
        return next
    remembered = plan.api.memo

    async def recalled(request: web.Request) -> web.StreamResponse:
        if request.body_exists:
            request[VERDICT] = None
            return await next(request)
        key = remembered.key(id(plan), plan.deciding_headers, request, request[IDENTITY])
        known = request[VERDICT] = remembered.get(key)
        response = await next(request)
        if known is None:
            verdict = request[VERDICT]  # validation's
            if verdict is not None:
                remembered.put(key, verdict)
        return response

    return recalled


# --- validation


def validation(next: RouteHandler, route: Route) -> RouteHandler:
    plan = route.plan
    if plan is None:
        return next

    remembered = plan.memoized  # then the memo stage has set VERDICT: the one it knows, or None

    async def validated(request: web.Request) -> web.StreamResponse:
        if not remembered or request[VERDICT] is None:
            verdict = await verdict_of(plan, request, request[IDENTITY])
            if not isinstance(verdict, (Validated, Reply)):  # a finished answer (413, 415)
                return verdict
            request[VERDICT] = verdict
        return await next(request)

    return validated


STAGES: tuple[Stage, ...] = (
    Stage("cors", cors),
    Stage("limits", limits),
    Stage("recording", recording),
    Stage("faults", faults),
    Stage("failures", failures),
    Stage("authentication", authentication),
    Stage("memo", memo),
    Stage("validation", validation),
)


# --- the endpoint of an operation


def answer(plan: OperationPlan) -> RouteHandler:
    """The answer to a validated request: its verdict's, or the one answers.py chooses."""

    async def answered(request: web.Request) -> web.StreamResponse:
        verdict: Verdict = request[VERDICT]  # type: ignore[assignment]
        return to_response(handled(plan, request, verdict) if isinstance(verdict, Validated) else verdict)

    return answered
