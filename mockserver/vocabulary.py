"""The words every part of mockserver speaks: what a request broke, how a request failed, a finished
answer, who a request is, what a sandbox handler sees, and the two kinds of handler.

A leaf: it imports nothing of the project at run time (the types `Call` refers to are named for
type checkers only), so any module may import it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from operator import methodcaller
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

if TYPE_CHECKING:
    from .sandbox.store import ApiState
    from .sandbox.world import World


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing a request broke."""

    location: str  # query, path, header, cookie, body, request
    name: str  # parameter name, or a JSON pointer into the body
    message: str
    # why, for envelopes that carry a code: missing, empty, type, malformed, unsupported or invalid
    reason: str = "invalid"
    # for envelopes that describe the rule (FastAPI's): the JSON Schema keyword that failed
    # ("type" for a coercion failure), its value in the schema, and the value received
    keyword: str = ""
    expected: Any = None
    value: Any = None

    def as_dict(self) -> dict[str, str]:
        return {"in": self.location, "name": self.name, "message": self.message}


@dataclass(slots=True)
class Reply:
    """A finished answer: status, serialized body and headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Problem:
    """Why a request failed, before any vendor has formatted it."""

    status: int
    message: str
    violations: list[Violation] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return reason(self.status)


Envelope = Callable[[Problem], Reply]  # a vendor's error format


@dataclass(frozen=True, slots=True)
class Identity:
    """One set of sandbox credentials: scheme name -> accepted value."""

    values: Mapping[str, bytes]  # every text entry: scheme name (or vendor credential name) -> value
    forbidden: bool = False
    name: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)  # the whole entry, for vendor extras (owned ids, ...)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], index: int) -> Identity:
        values = {str(k): str(v).encode() for k, v in raw.items() if k not in ("forbidden", "name") and isinstance(v, (str, int))}
        return cls(values, bool(raw.get("forbidden")), str(raw.get("name") or f"identity-{index + 1}"), dict(raw))


@dataclass(slots=True)
class Call:
    """What a sandbox handler sees of a request that passed authentication and validation."""

    operation: str
    params: dict[str, dict[str, Any]]  # location -> name -> coerced value (shared between requests: never change it)
    body: Any
    identity: Identity | None
    world: World
    state: ApiState  # this API's documents in the store
    settings: Mapping[str, Any] = field(default_factory=dict)  # the vendor's own settings (Vendor.settings)


SandboxHandler = Callable[[Call], "Reply | None"]  # a vendor's answer to one operation; None: the spec's answer
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]  # what aiohttp calls for a route


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def json_reply(status: int, payload: object, content_type: str = "application/json", headers: dict[str, str] | None = None) -> Reply:
    try:
        body = orjson.dumps(payload)
    except TypeError:  # an integer beyond 64 bits, quoted back from a request Python's json read
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body, content_type, headers or {})


def to_response(reply: Reply) -> web.Response:
    """The wire adapter: a Reply as aiohttp sends it."""
    headers = reply.headers
    if reply.content_type:
        headers = {**headers, "Content-Type": reply.content_type}
    return web.Response(body=reply.body, status=reply.status, headers=headers)


# A header, path or query value as the client's bytes (aiohttp keeps undecodable bytes as surrogates);
# a C-level call, for it runs on every credential check.
as_sent: Callable[[str], bytes] = methodcaller("encode", "utf-8", "surrogateescape")
