"""The five APIs over HTTP, as the fuzzing and perimeter tests use them: a representative read and
the writes of each, its sandbox credentials, "this is API X's error envelope", and requests
written byte for byte to a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .bitcain.helpers import CORE, SANDBOX_USER

APIS = ("mesh", "omniex", "treasure", "bitcain", "bitpanda")
BUSINESS = "urn:uuid:9b397b0d-69bc-b09f-9d82-0e02637042fc"  # the Treasure document's business
# a representative authenticated read of each API: answered 200 when nothing is wrong
READS = {
    "mesh": ("GET", "/mesh/api/v1/holdings/portfolio?UserId=alice"),
    "omniex": ("GET", "/omniex/edge/v1beta/portfolios"),
    "treasure": ("GET", f"/treasure/v1/businesses/{BUSINESS}/portfolio_history?start_date=2024-01-01&end_date=2024-01-31"),
    "bitcain": ("GET", "/bitcain/api/v1/portfolio/balances"),
    "bitpanda": ("GET", "/bitpanda/graphql?query=%7B__typename%7D"),
}
# where each API takes a body (mesh and omniex define no write: their paths answer 405)
WRITES = {
    "mesh": [("POST", "/mesh/api/v1/holdings/portfolio?UserId=alice")],
    "omniex": [("POST", "/omniex/edge/v1beta/portfolios")],
    "treasure": [("POST", "/treasure/v1/oauth/token")],
    "bitcain": [("POST", "/bitcain/api/v1/portfolio/?user_id=fuzz"), ("PUT", f"/bitcain/api/v1/portfolio/{CORE}?user_id={SANDBOX_USER}")],
    "bitpanda": [("POST", "/bitpanda/graphql")],
}
OMNIEX_CODES = {  # the reference's enum, and the code its examples use
    "ACCESS_DENIED",
    "AUTHENTICATION_FAILED",
    "INTERNAL_SERVER_ERROR",
    "METHOD_UNSUPPORTED",
    "PARAMETER_INVALID",
    "PARAMETER_VALUE_INVALID",
    "PARAMETER_UNSUPPORTED",
    "RESOURCE_NOT_FOUND",
    "TIMESTAMP_INVALID",
}
MESH_STATUSES = {"badRequest", "permissionDenied", "notFound", "conflict", "locked", "tooManyRequest", "unavailableForLegalReasons"}


# --- credentials ----------------------------------------------------------------------------------


def credentials(api: str, method: str, target: str, body: bytes = b"") -> list[tuple[str, str]]:
    """The sandbox credentials of an API for one request (Omniex signs method, path, body, time)."""
    if api == "mesh":
        return [("X-Client-Id", "mock-client-id"), ("X-Client-Secret", "sk_sand_mock_secret")]
    if api == "omniex":
        timestamp = str(int(time.time() * 1000))
        message = method.encode() + urlsplit(target).path.encode() + body + timestamp.encode()
        signature = hmac.new(b"mock-onx-secret", message, hashlib.sha384).hexdigest()
        return [("ONX-API-KEY", "mock-onx-key"), ("ONX-API-TIMESTAMP", timestamp), ("ONX-API-SIGNATURE", signature)]
    if api == "treasure":
        return [("Authorization", "Bearer mock-treasure-token")]
    if api == "bitcain":
        return [("Authorization", "Bearer mock-bitcain-token")]
    return [("x-api-key", "mock-api-key")]


# --- "this is API X's error envelope" --------------------------------------------------------------


def assert_envelope(api: str | None, status: int, content_type: str, body: bytes) -> Any:
    """A 4xx in the error envelope of `api` (None: a path no API owns, RFC 7807 problem+json).
    Returns the parsed body."""
    assert 400 <= status < 500, (status, body[:300])
    media = content_type.split(";")[0].strip().lower()
    payload = json.loads(body)
    if api is None:
        assert media == "application/problem+json", (media, body[:300])
        assert payload["type"] == "about:blank" and payload["status"] == status, payload
        assert payload["title"] and isinstance(payload["detail"], str) and payload["detail"], payload
        return payload
    assert media == "application/json", (api, media, body[:300])
    ENVELOPES[api](payload)
    return payload


def _mesh(payload: Any) -> None:
    assert set(payload) == {"status", "message", "displayMessage", "errorHash", "errorType", "errorData"}, payload
    assert payload["status"] in MESH_STATUSES and payload["errorType"], payload
    assert isinstance(payload["message"], str) and payload["message"] and payload["displayMessage"], payload
    assert re.fullmatch(r"[0-9a-f]{8}", payload["errorHash"]), payload
    data = payload["errorData"]
    assert data is None or all(set(v) == {"in", "name", "message"} for v in data["violations"]), payload


def _omniex(payload: Any) -> None:
    assert set(payload) == {"errors", "meta"} and payload["meta"] == {}, payload
    assert payload["errors"], payload
    for error in payload["errors"]:
        assert set(error) == {"error", "message"} and error["error"] in OMNIEX_CODES and error["message"], payload


def _treasure(payload: Any) -> None:
    assert set(payload) == {"error_code", "error_message", "details"}, payload
    assert re.fullmatch(r"[A-Z_]+", payload["error_code"]) and payload["error_message"], payload
    for item in payload["details"]:
        assert set(item) == {"target_type", "target", "message", "reason_code"}, payload


def _bitcain(payload: Any) -> None:
    assert set(payload) == {"detail"}, payload
    detail = payload["detail"]
    if isinstance(detail, str):
        assert detail, payload
        return
    assert detail and all({"type", "loc", "msg"} <= set(item) for item in detail), payload


def _bitpanda(payload: Any) -> None:
    assert set(payload) == {"errors"} and payload["errors"], payload
    for error in payload["errors"]:
        assert isinstance(error["errorType"], str) and error["errorType"], payload
        assert isinstance(error["message"], str) and error["message"], payload


ENVELOPES: dict[str, Callable[[Any], None]] = {
    "mesh": _mesh,
    "omniex": _omniex,
    "treasure": _treasure,
    "bitcain": _bitcain,
    "bitpanda": _bitpanda,
}


async def assert_answer(api: str | None, response: Any) -> Any:
    """`assert_envelope` on an aiohttp client response."""
    return assert_envelope(api, response.status, response.headers.get("Content-Type", ""), await response.read())


# --- a real socket ---------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def http_request(method: str, target: bytes, headers: Sequence[tuple[bytes, bytes]] = (), body: bytes = b"") -> bytes:
    """A request exactly as given: no header added but Host, Connection: close and Content-Length."""
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    lines.extend(name + b": " + value for name, value in headers)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def encoded(headers: Sequence[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in headers]


async def exchange(port: int, request: bytes) -> RawResponse:
    """Send the bytes, read one whole response (a dropped connection fails the test)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines if line)}
        body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 10)
        return RawResponse(int(status_line.split()[1]), headers, body)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def assert_raw_envelope(api: str | None, response: RawResponse) -> Any:
    return assert_envelope(api, response.status, response.content_type, response.body)


def assert_parser_refusal(response: RawResponse) -> None:
    """aiohttp's HTTP parser refused the request before the application saw it."""
    assert response.status == 400, response
    assert response.content_type.startswith("text/plain"), response
