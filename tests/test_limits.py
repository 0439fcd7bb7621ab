"""Every limit at its value (accepted) and one over (refused, in the envelope of the API the path
belongs to): body, request target, header line, all headers, header count, portfolios and
ledger entries per user, the journal. With small settings through the aiohttp test server
(whose own parser limits are aiohttp's defaults: `admit` does the work), and with the
defaults through a `mockserver serve` process, whose parser is set to a ceiling above them."""

from __future__ import annotations

import json
import resource
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mockserver.app import create_app, load_or_fail
from mockserver.limits import CEILING_FACTOR, HEADERS_TOTAL_FACTOR, Limits, connection_cap, parser_limits
from mockserver.mounted import MountedApi
from mockserver.sandbox.store import Store
from mockserver.sandbox.world import World
from mockserver.settings import Settings, load_settings
from mockserver.vendors.bitcain.ledger import seed_entries
from mockserver.vendors.bitcain.seed import SANDBOX_USER

from .helpers import MakeClient, running_server
from .raw_http import (
    APIS,
    READS,
    assert_answer,
    assert_parser_refusal,
    assert_raw_envelope,
    credentials,
    encoded,
    exchange,
    http_request,
)

Limited = Callable[..., Awaitable[TestClient]]
BITCAIN = "/bitcain/api/v1/portfolio"
BITCAIN_AUTH = {"Authorization": "Bearer mock-bitcain-token"}
# the status of each API's representative request when nothing is over a limit
ACCEPTED = {"mesh": 200, "omniex": 200, "treasure": 200, "bitcain": 201, "bitpanda": 200}
# what each envelope says about the status (the code or type it carries), per limit status
WORDS = {
    "mesh": {413: "payloadTooLarge", 414: "badRequest", 431: "badRequest"},
    "omniex": {413: "PARAMETER_INVALID", 414: "PARAMETER_INVALID", 431: "PARAMETER_INVALID"},
    "treasure": {413: "PAYLOAD_TOO_LARGE", 414: "INVALID_PARAMS", 431: "INVALID_PARAMS"},
    "bitcain": {413: "setting max_body_bytes", 414: "setting max_url_bytes", 431: "setting max_header"},
    "bitpanda": {413: "MalformedHttpRequestException", 414: "MalformedHttpRequestException", 431: "MalformedHttpRequestException"},
}


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[list[MountedApi], Store]]:
    """The bundled APIs, loaded once (loading is the slow part of an app); each test builds its
    own app around them with the settings it needs."""
    store = Store()
    apis, _ = load_or_fail(load_settings({}, environ={}), store)
    yield apis, store
    store.close()


@pytest.fixture
def limited(aiohttp_client: Any, loaded: tuple[list[MountedApi], Store]) -> Limited:
    async def make(**cli: Any) -> TestClient:
        apis, store = loaded
        return await aiohttp_client(create_app(load_settings(cli, environ={}), apis, store))

    return make


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """`mockserver serve` with default settings: the real runner, with the parser's ceiling."""
    with running_server("--quiet") as base:
        yield int(base.rsplit(":", 1)[1])


def assert_refused(api: str | None, status: int, payload: Any) -> None:
    """The envelope (already checked) carries the refusal's own code and names the setting."""
    text = json.dumps(payload)
    if api is not None:
        assert WORDS[api][status] in text, payload
    assert "setting max_" in text, payload


# --- settings and the parser's ceiling ---------------------------------------------------------------


def test_parser_limits_are_a_ceiling_above_the_settings() -> None:
    settings = load_settings({"max_url_bytes": 1000, "max_header_bytes": 2000, "max_headers": 30}, environ={})
    assert parser_limits(settings) == {"max_line_size": 2000, "max_field_size": 4000, "max_headers": 60}
    assert CEILING_FACTOR == 2 and HEADERS_TOTAL_FACTOR == 4


def test_the_default_limits_apply_without_settings() -> None:
    assert Limits.from_settings(Settings()).max_headers_total_bytes == 4 * 16_384


# --- body ------------------------------------------------------------------------------------------


def body_request(api: str, tag: str) -> tuple[str, str, dict[str, Any]]:
    """A request of each API that carries a JSON body and succeeds (mesh and omniex read with GET
    and ignore the body, but the limit holds for them too)."""
    if api == "treasure":
        return "POST", "/treasure/v1/oauth/token", {"client_id": "mock-treasure-client", "client_secret": "mock-treasure-secret"}
    if api == "bitcain":
        return "POST", f"{BITCAIN}/?user_id=limits", {"name": f"limit {tag}", "target_allocations": {"BTC": 1}, "initial_value_usd": "100"}
    if api == "bitpanda":
        return "POST", "/bitpanda/graphql", {"query": "{ __typename }"}
    method, target = READS[api]
    return method, target, {"padding": True}


async def send_body(client: TestClient, api: str, tag: str, size: int, chunked: bool) -> aiohttp.ClientResponse:
    method, target, document = body_request(api, tag)
    body = json.dumps(document).encode().ljust(size)  # JSON allows trailing white space
    assert len(body) == size
    headers = {**dict(credentials(api, method, target, body)), "Content-Type": "application/json"}

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    return await client.request(method, target, data=chunks() if chunked else body, headers=headers)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("api", APIS)
async def test_body_at_the_limit_is_accepted_and_one_byte_more_is_413(limited: Limited, api: str, chunked: bool) -> None:
    client = await limited(max_body_bytes=2048)
    response = await send_body(client, api, f"at {chunked}", 2048, chunked)
    assert response.status == ACCEPTED[api], await response.text()
    response = await send_body(client, api, f"over {chunked}", 2049, chunked)
    assert response.status == 413
    assert_refused(api, 413, await assert_answer(api, response))


async def test_body_limit_outside_the_apis_is_problem_json(limited: Limited) -> None:
    client = await limited(max_body_bytes=2048)
    for path in ("/nowhere", "/__mock/reset"):
        response = await client.post(path, data=b"x" * 2049)
        assert response.status == 413
        assert_refused(None, 413, await assert_answer(None, response))


async def test_default_body_limit_is_one_mebibyte(port: int) -> None:
    for api in ("treasure", "bitpanda"):
        method, target, document = body_request(api, "default")
        headers = [*encoded(credentials(api, method, target)), (b"Content-Type", b"application/json")]
        body = json.dumps(document).encode().ljust(1 << 20)
        response = await exchange(port, http_request(method, target.encode(), headers, body))
        assert response.status == 200, response
        response = await exchange(port, http_request(method, target.encode(), headers, body + b" "))
        assert response.status == 413
        assert_refused(api, 413, assert_raw_envelope(api, response))


# --- request target --------------------------------------------------------------------------------


def long_target(api: str, size: int) -> str:
    """The API's representative read, padded with a query parameter it ignores to `size` bytes
    (Omniex refuses unknown parameters: its `id` list selects nothing when no id matches)."""
    _, target = READS[api]
    name = "id" if api == "omniex" else "pad"
    start = f"{target}{'&' if '?' in target else '?'}{name}="
    return start + "x" * (size - len(start))


async def read_with_target(port: int, api: str, size: int) -> Any:
    target = long_target(api, size)
    assert len(target) == size
    return await exchange(port, http_request("GET", target.encode(), encoded(credentials(api, "GET", target))))


@pytest.mark.parametrize("api", APIS)
async def test_target_at_the_limit_is_accepted_and_one_byte_more_is_414(limited: Limited, api: str) -> None:
    client = await limited(max_url_bytes=1024)
    assert client.port is not None
    response = await read_with_target(client.port, api, 1024)
    assert response.status == 200, response
    response = await read_with_target(client.port, api, 1025)
    assert response.status == 414
    assert_refused(api, 414, assert_raw_envelope(api, response))


@pytest.mark.parametrize("api", APIS)
async def test_default_target_limit_and_the_parsers_ceiling(port: int, api: str) -> None:
    response = await read_with_target(port, api, 8192)
    assert response.status == 200, response
    response = await read_with_target(port, api, 8193)
    assert response.status == 414
    assert_refused(api, 414, assert_raw_envelope(api, response))
    response = await read_with_target(port, api, 16_384)  # the parser's ceiling is 16,384 for the target
    assert response.status == 414
    assert_parser_refusal(await read_with_target(port, api, 16_385))


# --- headers ---------------------------------------------------------------------------------------

BASE_HEADERS = [(b"Host", b"127.0.0.1"), (b"Connection", b"close")]  # what http_request always sends


def line_size(name: bytes, value: bytes) -> int:
    return len(name) + 2 + len(value)


def padded(api: str, line: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The API's read with one more header line of exactly `line` bytes."""
    method, target = READS[api]
    return target.encode(), [*encoded(credentials(api, method, target)), (b"X-Pad", b"p" * (line - len(b"X-Pad: ")))]


def counted(api: str, count: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The API's read with exactly `count` header fields in all."""
    method, target = READS[api]
    headers = encoded(credentials(api, method, target))
    extra = count - len(BASE_HEADERS) - len(headers)
    return target.encode(), [*headers, *[(b"X-Pad-%d" % index, b"1") for index in range(extra)]]


def totalling(api: str, total: int, longest: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The API's read with header lines (CRLF included) of exactly `total` bytes, none longer than `longest`."""
    method, target = READS[api]
    headers = encoded(credentials(api, method, target))
    remaining = total - sum(line_size(name, value) + 2 for name, value in [*BASE_HEADERS, *headers])
    pads = -(-remaining // (longest - 50))
    for index in range(pads):
        share = remaining // (pads - index)
        name = b"X-Pad-%d" % index
        headers.append((name, b"p" * (share - 2 - line_size(name, b""))))
        remaining -= share
    assert remaining == 0
    return target.encode(), headers


async def read_with_headers(port: int, request: tuple[bytes, list[tuple[bytes, bytes]]]) -> Any:
    target, headers = request
    return await exchange(port, http_request("GET", target, headers))


async def assert_431(port: int, api: str, request: tuple[bytes, list[tuple[bytes, bytes]]]) -> None:
    response = await read_with_headers(port, request)
    assert response.status == 431, response
    assert_refused(api, 431, assert_raw_envelope(api, response))


async def assert_header_limits(port: int, api: str, line_bytes: int, fields: int) -> None:
    """One header line, the field count and all the lines together (4 times one line's limit):
    each at its limit passes, one over is 431."""
    assert (await read_with_headers(port, padded(api, line_bytes))).status == 200
    await assert_431(port, api, padded(api, line_bytes + 1))
    assert (await read_with_headers(port, counted(api, fields))).status == 200
    await assert_431(port, api, counted(api, fields + 1))
    assert (await read_with_headers(port, totalling(api, 4 * line_bytes, line_bytes))).status == 200
    await assert_431(port, api, totalling(api, 4 * line_bytes + 1, line_bytes))


@pytest.mark.parametrize("api", APIS)
async def test_header_line_count_and_total_at_their_limits_and_one_over(limited: Limited, api: str) -> None:
    client = await limited(max_header_bytes=1024, max_headers=20)
    port = client.port
    assert port is not None
    await assert_header_limits(port, api, 1024, 20)


@pytest.mark.parametrize("api", APIS)
async def test_default_header_limits_and_the_parsers_ceiling(port: int, api: str) -> None:
    await assert_header_limits(port, api, 16_384, 100)
    await assert_431(port, api, counted(api, 200))  # the parser's ceiling: 200 fields
    assert_parser_refusal(await read_with_headers(port, counted(api, 201)))
    assert_parser_refusal(await read_with_headers(port, padded(api, len(b"X-Pad: ") + 32_769)))  # a value over 32,768


async def test_header_limits_outside_the_apis_are_problem_json(limited: Limited) -> None:
    client = await limited(max_header_bytes=1024, max_headers=20, max_url_bytes=1024)
    assert client.port is not None
    for path in (b"/nowhere", b"/__mock/health"):
        response = await exchange(client.port, http_request("GET", path, [(b"X-Pad", b"p" * 1100)]))
        assert response.status == 431
        assert_refused(None, 431, assert_raw_envelope(None, response))
        response = await exchange(client.port, http_request("GET", path + b"?" + b"q" * 2000))
        assert response.status == 414
        assert_refused(None, 414, assert_raw_envelope(None, response))


async def test_a_header_value_is_never_echoed(limited: Limited) -> None:
    client = await limited(max_header_bytes=1024)
    assert client.port is not None
    secret = b"sk_" + b"s" * 1100
    response = await exchange(client.port, http_request("GET", READS["mesh"][1].encode(), [(b"X-Client-Secret", secret)]))
    assert response.status == 431 and b"sss" not in response.body
    assert b"X-Client-Secret" in response.body  # the header is named


SECRET = b"sk_sand_mock_secret"


@pytest.mark.parametrize(
    "head",
    [
        b"GET /mesh/ HTTP/1.1\r\nX-Client-Secret " + SECRET,  # a header line with no colon
        b"GET /mesh/ HTTP/1.1\r\nX-Client-Secret: " + SECRET + b"\x01",  # a control byte in a value
        b"GET /mesh/ HTTP/1.1\r\nX-Client-Secret\xff: " + SECRET,  # a raw non-ASCII byte in a name
        b"GET /mesh/ HTTP/1.1\r\nX-Pad: " + SECRET + b"p" * 40_000,  # over the parser's ceiling
        b"GET /mesh/?key=" + SECRET + b"\x01 HTTP/1.1",  # a control byte in the target
        b"G\x01T /mesh/?key=" + SECRET + b" HTTP/1.1",  # a control byte in the method
    ],
)
async def test_the_parsers_400_never_echoes_the_request(port: int, head: bytes) -> None:
    response = await exchange(port, head + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert_parser_refusal(response)
    assert response.body.startswith(b"Bad Request: ") and b"sk_sand" not in response.body


def test_the_connection_cap_is_the_setting_at_most_what_the_descriptors_allow() -> None:
    """(A real server under a descriptor limit: tests/test_slow_clients.py.)"""
    automatic = connection_cap(load_settings({}, environ={}))
    assert 0 < automatic < resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert connection_cap(load_settings({"max_connections": 5}, environ={})) == 5
    assert connection_cap(load_settings({"max_connections": 1_000_000}, environ={})) == automatic


# --- state per user --------------------------------------------------------------------------------


async def create(client: TestClient, user: str, name: str) -> aiohttp.ClientResponse:
    body = {"name": name, "target_allocations": {"BTC": 1}, "initial_value_usd": "100"}
    return await client.post(f"{BITCAIN}/", params={"user_id": user}, json=body, headers=BITCAIN_AUTH)


async def test_portfolios_per_user_at_the_limit_and_one_more(make_client: MakeClient) -> None:
    client = await make_client(max_portfolios_per_user=3)  # a vendor's setting: its API is loaded with it
    created = [await (await create(client, "cap", f"p{index}")).json() for index in range(3)]
    assert all("portfolio_id" in item for item in created)
    refused = await create(client, "cap", "p3")
    assert refused.status == 409
    assert await refused.json() == {"detail": "A user may have at most 3 portfolios; delete one first"}
    assert (await create(client, "someone-else", "p3")).status == 201  # the limit is per user
    url = f"{BITCAIN}/{created[0]['portfolio_id']}"
    assert (await client.delete(url, params={"user_id": "cap", "force": "true"}, headers=BITCAIN_AUTH)).status == 204
    assert (await create(client, "cap", "p3")).status == 201


CSV_HEADER = b"Timestamp,Transaction Type,Asset,Quantity Transacted,Spot Price Currency,Spot Price at Transaction\n"


async def ingest(client: TestClient, row: bytes) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", CSV_HEADER + row, filename="statement.csv", content_type="text/csv")
    return await client.post(f"{BITCAIN}/ingest/csv", data=form, headers=BITCAIN_AUTH)


async def test_ledger_entries_per_user_at_the_limit_and_one_more(make_client: MakeClient) -> None:
    seeded = len(seed_entries(World(0), SANDBOX_USER))
    client = await make_client(max_ledger_entries_per_user=seeded + 1)  # a vendor's setting: its API is loaded with it
    accepted = await ingest(client, b"2024-01-01T00:00:00Z,Buy,BTC,0.0001,USD,40000\n")
    assert accepted.status == 200 and (await accepted.json())["rows_imported"] == 1
    refused = await ingest(client, b"2024-01-02T00:00:00Z,Buy,BTC,0.0001,USD,41000\n")
    assert refused.status == 422
    [item] = (await refused.json())["detail"]
    assert item["loc"] == ["body", "file"]
    assert item["msg"].startswith(f"Value error, the ledger would hold more than {seeded + 1} transactions")


# --- the journal -----------------------------------------------------------------------------------


async def test_the_journal_keeps_at_most_journal_size_requests(limited: Limited) -> None:
    client = await limited(journal_size=5, max_header_bytes=1024)
    method, target = READS["mesh"]
    for index in range(8):
        await client.get(f"{target}&n={index}", headers=dict(credentials("mesh", method, target)))
    assert (await client.get(target, headers={"X-Pad": "p" * 1100})).status == 431  # refused: not journalled
    listing = await (await client.get("/__mock/requests")).json()
    assert listing["capacity"] == 5 and listing["total"] == 5
    assert [entry["query"]["n"] for entry in listing["requests"]] == [["7"], ["6"], ["5"], ["4"], ["3"]]
