"""HTTP-layer fuzzing of the five APIs: random and malformed bytes where the HTTP layer meets the
APIs (bodies, request targets, header values, sizes, nesting, numbers).

Whatever arrives, the answer is a clear 4xx in the error envelope of the API the path belongs
to (problem+json for paths no API owns), never a 5xx and never a dropped connection. The one
exception is a request aiohttp's HTTP parser refuses before any application code runs (raw
non-ASCII bytes in the request line or a header name, a duplicated Host, sizes over the parser's
hard ceiling): that is the parser's own plain-text 400, asserted as such.

Bodies go through the aiohttp test client; request targets and headers are written byte for
byte to a real socket of a `mockserver serve` process.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockserver.app import create_app, load_or_fail
from mockserver.mounted import MountedApi
from mockserver.sandbox.store import Store
from mockserver.settings import load_settings
from mockserver.vendors.treasure.tokens import TOKEN_LIFETIME, issue_token
from mockserver.vocabulary import Identity

from .helpers import running_server
from .raw_http import (
    APIS,
    BUSINESS,
    READS,
    WRITES,
    assert_answer,
    assert_parser_refusal,
    assert_raw_envelope,
    credentials,
    encoded,
    exchange,
    http_request,
)

# a JSON body of each write endpoint with VALUE where an odd value goes
TEMPLATES = {
    "treasure": b'{"client_id": VALUE, "client_secret": "mock-treasure-secret"}',
    "bitcain": b'{"name": "fuzz", "target_allocations": {"BTC": VALUE}, "initial_value_usd": VALUE}',
    "bitpanda": b'{"query": "query($d: String) { user { portfolio(endDate: $d) { __typename } } }", "variables": {"d": VALUE}}',
}


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """A `mockserver serve` process with default settings (the real runner and its parser limits)."""
    with running_server("--quiet") as base:
        yield int(base.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[list[MountedApi], Store]]:
    """The bundled APIs, loaded once for the module (loading is the slow part of an app)."""
    store = Store()
    apis, _ = load_or_fail(load_settings({}, environ={}), store)
    yield apis, store
    store.close()


@pytest.fixture
async def client(aiohttp_client: Any, loaded: tuple[list[MountedApi], Store]) -> AsyncIterator[TestClient]:
    apis, store = loaded
    yield await aiohttp_client(create_app(load_settings({}, environ={}), apis, store))


# --- sanity: the representative requests work --------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
async def test_the_representative_requests_succeed(port: int, api: str) -> None:
    method, target = READS[api]
    response = await exchange(port, http_request(method, target.encode(), encoded(credentials(api, method, target))))
    assert response.status == 200, response
    assert response.content_type.startswith("application/json")


# --- bodies ----------------------------------------------------------------------------------------

CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    None,
)


def random_body(rng: random.Random) -> bytes:
    """Random bytes, sometimes dressed as the start of a JSON document."""
    size = rng.choice((0, 1, 2, 7, 64, 500, 3000))
    data = rng.randbytes(size)
    return rng.choice((b"", b"{", b'{"', b"[", b'{"query":')) + data


@pytest.mark.parametrize("api", APIS)
async def test_random_bytes_as_bodies(client: TestClient, api: str) -> None:
    rng = random.Random(f"bodies-{api}")
    for method, target in WRITES[api]:
        for _ in range(100):
            body = random_body(rng)
            content_type = rng.choice(CONTENT_TYPES)
            headers = dict(credentials(api, method, target, body))
            if content_type is not None:
                headers["Content-Type"] = content_type
            response = await client.request(method, target, data=body, headers=headers)
            if response.status < 300 and is_json(body):
                continue  # the random bytes happen to be a valid document (`{}` is a valid update)
            await assert_answer(api, response)


def is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("api", APIS)
async def test_invalid_utf8_in_json_bodies(client: TestClient, api: str) -> None:
    bodies = [b'{"name": "\xff\xfe"}', b'{"\xc0\xaf": 1}', b'{"query": "{ \xed\xa0\x80 }"}', b'"\x80"']
    if api != "bitcain":  # FastAPI reads JSON after a UTF-8 BOM (tests/bitcain/test_fastapi_differential.py)
        bodies.append(b"\xef\xbb\xbf{}")
    for body in bodies:
        for method, target in WRITES[api]:
            headers = {**dict(credentials(api, method, target, body)), "Content-Type": "application/json"}
            await assert_answer(api, await client.request(method, target, data=body, headers=headers))


def nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


async def post_json(client: TestClient, api: str, body: bytes) -> Any:
    """POST (or PUT) `body` as JSON to the API's first write endpoint; its error envelope."""
    method, target = WRITES[api][0]
    headers = {**dict(credentials(api, method, target, body)), "Content-Type": "application/json"}
    return await assert_answer(api, await client.request(method, target, data=body, headers=headers))


@pytest.mark.parametrize("api", ("treasure", "bitcain", "bitpanda"))
@pytest.mark.parametrize("kind", ("array", "object"))
async def test_deeply_nested_json(client: TestClient, api: str, kind: str) -> None:
    """10,000 levels (beyond the JSON parser's limit), then just below the JSON parser's, the
    schema engine's and the body checker's own limits; as the whole body and inside a field."""
    for depth in (10_000, 1000, 300, 65):
        inner = nested(depth, kind)
        await post_json(client, api, inner)
        await post_json(client, api, TEMPLATES[api].replace(b"VALUE", inner))


NUMBERS = (b"1e400", b"-1e400", b"1E+999999999", b"1" + b"0" * 400, b"18446744073709551616", b"-9223372036854775809", b"-0", b"-0.0")


@pytest.mark.parametrize("api", ("treasure", "bitcain", "bitpanda"))
async def test_numbers_beyond_int64_and_double_in_json(client: TestClient, api: str) -> None:
    for number in NUMBERS:
        await post_json(client, api, TEMPLATES[api].replace(b"VALUE", number))


NUMERIC_TEXT = (
    "1e400",
    "-1e400",
    "1E%2B999999999",
    "9" * 400,
    "18446744073709551616",
    "-9223372036854775809",
    "0x10",
    "NaN",
    "Infinity",
    "9" * 4301,
)
# a parameter of each API that a number goes in (Omniex's only one is a path id)
NUMERIC_TARGETS = {
    "mesh": "/mesh/api/v1/holdings/portfolio?UserId=alice&TimezoneOffset={}",
    "omniex": "/omniex/edge/v1beta/portfolios/{}",
    "treasure": f"/treasure/v1/businesses/{BUSINESS}/portfolio_history?start_date={{}}&end_date=2024-01-31",
    "bitcain": "/bitcain/api/v1/portfolio/?user_id=alice&limit={}&offset={}",
    "bitpanda": "/bitpanda/graphql?query=query(%24d%3AString)%7Buser%7Bportfolio(endDate%3A%24d)%7B__typename%7D%7D%7D"
    "&variables=%7B%22d%22%3A{}%7D",
}


@pytest.mark.parametrize("api", APIS)
async def test_numbers_beyond_int64_and_double_in_parameters(port: int, api: str) -> None:
    for number in NUMERIC_TEXT:
        target = NUMERIC_TARGETS[api].replace("{}", number)
        response = await exchange(port, http_request("GET", target.encode(), encoded(credentials(api, "GET", target))))
        assert_raw_envelope(api, response)


# --- request targets -------------------------------------------------------------------------------

MOUNTS = {"mesh": "/mesh", "omniex": "/omniex/edge/v1beta", "treasure": "/treasure", "bitcain": "/bitcain", "bitpanda": "/bitpanda"}
TRICKS = (
    "/../__mock/apis",
    "/..%2f__mock%2fapis",
    "/%2e%2e/__mock/apis",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/%252e%252e%252f__mock",
    "/%c0%af%c0%ae%c0%ae",
    "/%c0%ae%c0%ae/__mock/apis",
    "/%00",
    "/x%00.json",
    "/\\..\\__mock\\apis",
    "/%5c..%5c__mock",
    "/./.././",
    "//__mock/apis",
    "/%ff%fe",
    "/%zz%",
)


@pytest.mark.parametrize("api", APIS)
async def test_path_traversal_and_percent_encoding_tricks(port: int, api: str) -> None:
    for trick in TRICKS:
        target = MOUNTS[api] + trick
        response = await exchange(port, http_request("GET", target.encode(), encoded(credentials(api, "GET", target))))
        assert_raw_envelope(api, response)


async def test_tricks_outside_any_api_get_problem_json(port: int) -> None:
    for target in ("/../__mock/apis", "/%2e%2e/__mock/apis", "/%c0%af", "/\\__mock", "/%00", "/nowhere%ff"):
        assert_raw_envelope(None, await exchange(port, http_request("GET", target.encode())))
    assert_raw_envelope(None, await exchange(port, http_request("OPTIONS", b"*")))


# FastAPI serves bad escapes and takes the first of repeated credentials (bitcain's, held to real
# FastAPI by tests/bitcain/test_fastapi_differential.py); every other API refuses both
STRICT_APIS = [api for api in APIS if api != "bitcain"]
ODD_ESCAPES = ("%ff", "%c0%af", "%ed%a0%80", "a%e2%82", "%00")


@pytest.mark.parametrize("api", APIS)
async def test_invalid_utf8_in_the_query(port: int, api: str) -> None:
    method, target = READS[api]
    separator = "&" if "?" in target else "?"
    for value in ODD_ESCAPES:
        odd = f"{target}{separator}x={value}"
        response = await exchange(port, http_request(method, odd.encode(), encoded(credentials(api, method, odd))))
        payload = assert_raw_envelope(api, response) if api in STRICT_APIS else None
        assert response.status == (400 if api in STRICT_APIS else 200), payload


@pytest.mark.parametrize("api", APIS)
async def test_raw_non_ascii_in_the_request_line_is_the_parsers_400(port: int, api: str) -> None:
    method, target = READS[api]
    for odd in (target.encode() + b"&x=\xff", MOUNTS[api].encode() + b"/\xc0\xaf", MOUNTS[api].encode() + b"/\x00"):
        assert_parser_refusal(await exchange(port, http_request(method, odd, encoded(credentials(api, method, target)))))


# --- headers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
async def test_invalid_utf8_in_credential_header_values(port: int, api: str) -> None:
    method, target = READS[api]
    for garbage in (b"\xff\xfe", b"\xc0\xaf", b"ok\xed\xa0\x80"):
        headers = [(name, value[:-1] + garbage) for name, value in encoded(credentials(api, method, target))]
        response = await exchange(port, http_request(method, target.encode(), headers))
        assert response.status in (400, 401), response
        assert_raw_envelope(api, response)


@pytest.mark.parametrize("api", APIS)
async def test_invalid_utf8_in_a_header_nobody_reads_is_ignored(port: int, api: str) -> None:
    method, target = READS[api]
    good = encoded(credentials(api, method, target))
    response = await exchange(port, http_request(method, target.encode(), [*good, (b"X-Trace", b"\xff\xfe\xfd")]))
    assert response.status == 200, response


@pytest.mark.parametrize("api", ("mesh", "omniex", "treasure", "bitcain"))
async def test_invalid_utf8_in_the_prefer_header_is_refused(port: int, api: str) -> None:
    """The REST APIs read Prefer (the GraphQL one does not)."""
    method, target = READS[api]
    good = encoded(credentials(api, method, target))
    response = await exchange(port, http_request(method, target.encode(), [*good, (b"Prefer", b"code=\xff")]))
    assert "Prefer" in json.dumps(assert_raw_envelope(api, response)), response


@pytest.mark.parametrize("api", APIS)
async def test_invalid_utf8_in_a_header_name_is_the_parsers_400(port: int, api: str) -> None:
    method, target = READS[api]
    headers = [*encoded(credentials(api, method, target)), (b"X-\xff", b"1")]
    assert_parser_refusal(await exchange(port, http_request(method, target.encode(), headers)))


@pytest.mark.parametrize("api", STRICT_APIS)
async def test_repeated_credential_headers_are_400(port: int, api: str) -> None:
    method, target = READS[api]
    good = encoded(credentials(api, method, target))
    name = good[-1][0]
    for extra in ([(name, good[-1][1])], [(name, b"something-else")]):
        response = await exchange(port, http_request(method, target.encode(), [*good, *extra]))
        payload = assert_raw_envelope(api, response)
        assert response.status == 400 and "given 2 times" in json.dumps(payload), payload


async def test_of_repeated_credential_headers_fastapi_takes_the_first(port: int) -> None:
    method, target = READS["bitcain"]
    good = encoded(credentials("bitcain", method, target))
    name = good[-1][0]
    for headers, status in (([*good, (name, b"Bearer something-else")], 200), ([*good[:-1], (name, b"Bearer wrong"), good[-1]], 401)):
        response = await exchange(port, http_request(method, target.encode(), headers))
        assert response.status == status, response


@pytest.mark.parametrize("api", APIS)
async def test_a_hundred_copies_of_a_header_are_431(port: int, api: str) -> None:
    method, target = READS[api]
    good = encoded(credentials(api, method, target))
    for copies in ([(b"X-Pad", b"1")] * 100, [good[-1]] * 100):
        response = await exchange(port, http_request(method, target.encode(), [*good, *copies]))
        assert response.status == 431, response
        assert_raw_envelope(api, response)


@pytest.mark.parametrize("api", APIS)
async def test_huge_headers(port: int, api: str) -> None:
    """Over the setting: 431 in the envelope; over the parser's ceiling: the parser's 400."""
    method, target = READS[api]
    good = encoded(credentials(api, method, target))
    response = await exchange(port, http_request(method, target.encode(), [*good, (b"X-Pad", b"p" * 20_000)]))
    assert response.status == 431, response
    assert_raw_envelope(api, response)
    response = await exchange(port, http_request(method, target.encode(), [*good, *[(b"X-Pad", b"p" * 15_000)] * 6]))
    assert response.status == 431, response
    assert_raw_envelope(api, response)
    assert_parser_refusal(await exchange(port, http_request(method, target.encode(), [*good, (b"X-Pad", b"p" * 40_000)])))


@pytest.mark.parametrize("api", APIS)
async def test_very_long_query_strings(port: int, api: str) -> None:
    method, target = READS[api]
    separator = "&" if "?" in target else "?"
    for size, expected in ((9_000, 414), (16_000, 414)):
        long = f"{target}{separator}pad={'q' * size}"
        response = await exchange(port, http_request(method, long.encode(), encoded(credentials(api, method, long))))
        assert response.status == expected, response
        assert_raw_envelope(api, response)
    long = f"{target}{separator}pad={'q' * 40_000}"
    assert_parser_refusal(await exchange(port, http_request(method, long.encode(), encoded(credentials(api, method, long)))))


@pytest.mark.parametrize("api", ("treasure", "bitcain", "bitpanda"))
async def test_undecodable_content_encoding_is_400(port: int, api: str) -> None:
    method, target = WRITES[api][0]
    body = b"\x1f\x8b not gzip at all"
    headers = [*encoded(credentials(api, method, target, body)), (b"Content-Type", b"application/json"), (b"Content-Encoding", b"gzip")]
    response = await exchange(port, http_request(method, target.encode(), headers, body))
    assert response.status == 400, response
    assert "content-encoding" in json.dumps(assert_raw_envelope(api, response)).lower()


# --- inputs that reached a 500: each is a 4xx in the API's envelope, and nothing is logged as an error ----

INGEST = "/bitcain/api/v1/portfolio/ingest/csv"
SANDBOX_CLIENT = Identity.from_config({"client_id": "mock-treasure-client", "client_secret": "mock-treasure-secret"}, 0)


@pytest.fixture
def nothing_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The test's requests log no error and no traceback."""
    yield
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info], caplog.text


async def test_an_omniex_timestamp_past_the_int_string_limit_without_credentials(client: TestClient, nothing_logged: None) -> None:
    """Python's `int` refuses a text of more than 4,300 digits; an int64 has at most 19."""
    target = READS["omniex"][1]
    for timestamp in ("1" * 4301, "9" * 6000, "1" * 20):
        headers = {"ONX-API-KEY": "nobody", "ONX-API-TIMESTAMP": timestamp, "ONX-API-SIGNATURE": "0" * 96}
        response = await client.get(target, headers=headers)
        payload = await assert_answer("omniex", response)
        assert response.status == 400 and [error["error"] for error in payload["errors"]] == ["TIMESTAMP_INVALID"], payload


def one_part_form(boundary: bytes) -> bytes:
    return b'--%s\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nx\r\n--%s--\r\n' % (boundary, boundary)


async def test_a_multipart_boundary_the_parser_refuses(client: TestClient, nothing_logged: None) -> None:
    """python-multipart refuses a boundary over 256 bytes; FastAPI (Starlette) answers it as invalid multipart data."""
    for size in (257, 1000, 6000):
        boundary = "b" * size
        headers = {**dict(credentials("bitcain", "POST", INGEST)), "Content-Type": f"multipart/form-data; boundary={boundary}"}
        response = await client.post(INGEST, data=one_part_form(boundary.encode()), headers=headers)
        assert (response.status, await assert_answer("bitcain", response)) == (400, {"detail": "Invalid multipart data."})


async def test_a_multipart_boundary_of_bytes_that_are_not_utf8(port: int) -> None:
    """Read as the header's bytes, as Starlette reads them: the form is parsed (and its CSV judged)."""
    for boundary in (b"\xff\xfe", b"\xe2\x82\xac", b"x" * 300 + b"\xff"):
        body = one_part_form(boundary)
        headers = [*encoded(credentials("bitcain", "POST", INGEST)), (b"Content-Type", b"multipart/form-data; boundary=" + boundary)]
        response = await exchange(port, http_request("POST", INGEST.encode(), headers, body))
        assert_raw_envelope("bitcain", response)


async def test_treasure_tokens_signed_with_times_out_of_range(client: TestClient, nothing_logged: None) -> None:
    """A client knows its secret, so it can sign any claims: exp <= -10^18 (and the like) is 401, not a 500."""
    target = READS["treasure"][1]
    for issued_at in (-(10**18) - TOKEN_LIFETIME, -(10**11), -TOKEN_LIFETIME - 1, 10**18, 2**63 - 1 - TOKEN_LIFETIME):
        token = issue_token(SANDBOX_CLIENT, 0, issued_at)
        response = await client.get(target, headers={"Authorization": f"Bearer {token}"})
        payload = await assert_answer("treasure", response)
        assert response.status == 401 and payload["error_code"] == "NOT_AUTHENTICATED", payload
    fresh = issue_token(SANDBOX_CLIENT, 0, int(time.time()))
    assert (await client.get(target, headers={"Authorization": f"Bearer {fresh}"})).status == 200  # the signing is right


@pytest.mark.parametrize("api", ("mesh", "bitcain"))
async def test_an_integer_parameter_past_the_int_string_limit(client: TestClient, nothing_logged: None, api: str) -> None:
    target = NUMERIC_TARGETS[api].replace("{}", "9" * 4301, 1).replace("{}", "0")
    response = await client.get(target, headers=dict(credentials(api, "GET", target)))
    assert response.status in (400, 422), response
    await assert_answer(api, response)


async def test_a_date_in_year_0000(client: TestClient, nothing_logged: None) -> None:
    """A date format allows it; no calendar the sandbox counts in has it."""
    target = NUMERIC_TARGETS["treasure"].replace("{}", "0000-01-01")
    response = await client.get(target, headers=dict(credentials("treasure", "GET", target)))
    assert response.status == 400, response
    await assert_answer("treasure", response)
