"""What the recording stage (pipeline.py) does with every API request's answer: masking, the
journal and the access log.

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
from typing import TYPE_CHECKING

from aiohttp import web

from .faults import Faults
from .journal import Journal, body_summary
from .security import SecretMask

if TYPE_CHECKING:
    from .mounted import MountedApi

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


@dataclass(frozen=True, slots=True)
class Recorder:
    """Where one route's requests are recorded, worked out once when the route is added."""

    journal: Journal
    secrets: SecretMask
    api_name: str | None
    operation: str | None
    credential_fields: frozenset[str]
    # A GraphQL answer can quote its input even in a 200 (errors next to data), so every one is
    # masked; and its handler names the operation it ran in the request (OPERATION_KEY).
    graphql: bool

    @classmethod
    def of(cls, journal: Journal, secrets: SecretMask, api: MountedApi | None, operation: str | None) -> Recorder:
        if api is None:
            return cls(journal, secrets, None, operation, frozenset(), False)
        return cls(journal, secrets, api.name, operation, api.credential_fields, api.kind == "graphql")

    def record(
        self,
        request: web.Request,
        status: int,
        started: float,
        body: object,
        journal: Journal | None = None,
        answer: web.StreamResponse | None = None,
    ) -> None:
        """The request in the journal (the route's, or `journal`: its session's; unless it is off), with
        the body of `answer` (the response sent, None when the connection was dropped), and the access
        log (unless quiet)."""
        operation = (request.get(OPERATION_KEY) if self.graphql else None) or self.operation
        journal = self.journal if journal is None else journal
        if journal.size > 0:
            sent = answer.body if isinstance(answer, web.Response) else None
            journal.record(
                request.method,
                request.rel_url,
                request.headers,
                body,
                self.api_name,
                operation,
                status,
                started,
                self.credential_fields,
                answer.headers.get("Content-Type", "") if answer is not None else "",
                sent if isinstance(sent, bytes) else None,
            )
        if access_log.isEnabledFor(logging.INFO):
            _log_access(request, self.secrets, self.api_name, operation, status, started)


def may_quote_its_request(response: web.StreamResponse) -> bool:
    """A success answer to a request with a body may quote that body, unless it hands the client a
    credential of its own: an OAuth token answer says `Cache-Control: no-store` (RFC 6749 5.1),
    and the token it issues is for that client to see. (A 2xx to a request without a body
    shows stored data only, and is sent as it is.)"""
    return "no-store" not in response.headers.get("Cache-Control", "")


def mask_response(response: web.StreamResponse, mask: SecretMask) -> None:
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


async def body_for_journal(request: web.Request) -> object:
    """The request body as the journal keeps it (a body the handler refused to read stays unread)."""
    try:
        raw = await request.read()
    except (web.HTTPException, ConnectionError, asyncio.IncompleteReadError):
        return None
    return body_summary(request.headers.get("Content-Type", ""), raw)
