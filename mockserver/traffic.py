"""What happens around every API request's handler: injected faults before, masking, journal
and access log after (`observe`, which wraps each API route's handler when the route is added).

Control requests (/__mock) do not pass here: they are neither faulted nor journalled.

Error messages quote the input they reject (a path, a parameter, a GraphQL variable), and
an answer to a request with a body may quote that body (bitcain's CSV ingest report quotes
the file's cells), so whatever a client sent where, no secret of the server comes back out:
the body and headers of such answers are masked with every API's secrets, the control token
and any token the server issued, and so is the path in the access log. The journal redacts
credential fields by name in everything read out of an entry, and the control API masks
secret values wherever they are when it reads entries out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from .faults import Faults
from .journal import Journal, body_summary
from .mounted import RouteTag
from .security import SecretMask
from .vocabulary import RouteHandler

CONTROL_PREFIX = "/__mock"
OPERATION_KEY = web.RequestKey("mock_operation", str)  # set by handlers that know better than their route (GraphQL)
DROPPED = 0  # journal status of a connection closed by a fault
access_log = logging.getLogger("mockserver.access")


@dataclass
class Traffic:
    journal: Journal
    faults: Faults


TRAFFIC = web.AppKey("traffic", Traffic)
SECRETS = web.AppKey("secrets", SecretMask)  # every API's secrets and the control token (security.secrets_of)


def observe(traffic: Traffic, secrets: SecretMask, handler: RouteHandler, tag: RouteTag | None) -> RouteHandler:
    """`handler` with the faults injected before it, and its answer masked, journalled and logged after it.

    Everything that does not change per request is worked out here, once per route."""
    api = tag.api if tag is not None else None
    api_name = api.name if api is not None else None
    route_operation = tag.operation if tag is not None else None
    credential_fields = api.credential_fields if api is not None else frozenset()
    journal, faults = traffic.journal, traffic.faults
    # A GraphQL answer can quote its input even in a 200 (errors next to data), so every one is
    # masked; and its handler names the operation it ran in the request (OPERATION_KEY).
    graphql = api is not None and api.kind == "graphql"
    keeps_bodies = journal.size > 0

    async def observed(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        response: web.StreamResponse | None = None
        if faults and tag is not None:
            effect = faults.effect_for(tag.api.name, tag.operation)
            if effect is not None:
                if effect.delay_s:
                    await asyncio.sleep(effect.delay_s)
                if effect.drop:
                    if request.transport is not None:
                        request.transport.abort()
                    record(request, DROPPED, started, await _body(request) if keeps_bodies and request.body_exists else None)
                    return web.Response(status=499)  # never reaches the client: the connection is gone
                if effect.status is not None:
                    response = tag.api.error_response(effect.status, f"fault injected through /__mock/faults: {effect.status}")
        if response is None:
            response = await handler(request)
        if graphql or response.status >= 400 or (request.body_exists and _may_quote_its_request(response)):
            _mask_response(response, secrets)
        record(request, response.status, started, await _body(request) if keeps_bodies and request.body_exists else None)
        return response

    def record(request: web.Request, status: int, started: float, body: object) -> None:
        operation = (request.get(OPERATION_KEY) if graphql else None) or route_operation
        if keeps_bodies:
            journal.record(request.method, request.rel_url, request.headers, body, api_name, operation, status, started, credential_fields)
        if access_log.isEnabledFor(logging.INFO):
            _log_access(request, secrets, api_name, operation, status, started)

    return observed


def _may_quote_its_request(response: web.StreamResponse) -> bool:
    """A success answer to a request with a body may quote that body, unless it hands the client a
    credential of its own: an OAuth token answer says `Cache-Control: no-store` (RFC 6749 5.1),
    and the token it issues is for that client to see. (A 2xx to a request without a body
    shows stored data only, and is sent as it is.)"""
    return "no-store" not in response.headers.get("Cache-Control", "")


def _mask_response(response: web.StreamResponse, mask: SecretMask) -> None:
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        masked = mask.bytes(response.body)
        if masked is not response.body:
            response.body = masked
    for name, value in list(response.headers.items()):
        masked_value = mask.text(value)
        if masked_value is not value:
            response.headers[name] = masked_value


def _log_access(
    request: web.Request, secrets: SecretMask, api_name: str | None, operation: str | None, status: int, started: float
) -> None:
    elapsed = (time.perf_counter() - started) * 1000
    path = secrets.text(request.path)
    access_log.info(
        "%s %s %s %.1fms %s %s",
        request.method,
        path,
        status or "dropped",
        elapsed,
        api_name or "-",
        operation or "-",
        extra={
            "http": {"method": request.method, "path": path, "status": status, "durationMs": round(elapsed, 3)},
            "api": api_name,
            "operation": operation,
        },
    )


async def _body(request: web.Request) -> object:
    """The request body as the journal keeps it (a body the handler refused to read stays unread)."""
    try:
        raw = await request.read()
    except (web.HTTPException, ConnectionError, asyncio.IncompleteReadError):
        return None
    return body_summary(request.headers.get("Content-Type", ""), raw)
