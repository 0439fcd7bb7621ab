"""Differential test: the mock's bitcain against real FastAPI (tests/bitcain/fastapi_oracle.py).

Each request of tests/bitcain/fastapi_requests.py goes, byte for byte over a socket, to the mock
(in-process, aiohttp's test server) and to the oracle (in-process, served by uvicorn, as FastAPI
services are), both mounted at /bitcain. The answers must agree on the status, on the headers
that matter (COMPARED_HEADERS) and, for a 4xx, on the whole JSON body. 2xx bodies come from the
mock's business logic and are not compared. The mock's state is reset before each request.

A difference is accepted only for the requests in EXPECTED_DIFFERENCES, each with the mock's own
status (asserted) and the reference's sentence that justifies it.

`python -m tests.bitcain.test_fastapi_differential` prints a summary (add `--ids` for the ids
that differ).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from aiohttp.test_utils import TestServer

from mockserver.app import create_app
from mockserver.settings import load_settings

from ..helpers import ROOT
from ..raw_http import encoded, http_request
from .fastapi_oracle import create_oracle
from .fastapi_requests import AUTH, BASE, EMPTY, JSON, PROBES, Probe
from .helpers import MOUNT, SANDBOX_USER

COMPARED_HEADERS = ("www-authenticate", "allow", "location", "content-type")


@dataclass(frozen=True)
class Deliberate:
    """A request the mock answers otherwise than the stateless oracle, on purpose: the mock's own status,
    and the reference's sentence (or the sandbox bound) that makes it so."""

    status: int
    why: str


ALLOCATIONS = "target_allocations*: Target asset allocations as decimal percentages (must sum to 1.0)"

# request id -> what the mock answers instead, and why (each also in specs/bitcain.yaml's notes)
EXPECTED_DIFFERENCES: dict[str, Deliberate] = {
    "create:name-taken": Deliberate(409, "name*string: Portfolio name (must be unique per user)"),
    "delete:no-force:holding-assets": Deliberate(409, "force?boolean: Force deletion even if portfolio has assets"),
    # each weight is a percentage, 0..1, and they sum to 1.0: a 1.5 and a -0.5 are refused, and so is NaN
    'create:target_allocations={"BTC": 1.5, "ETH": -0.5}': Deliberate(422, ALLOCATIONS),
    "create:nan": Deliberate(422, ALLOCATIONS),
    # the upload is read: the last `file` part (as Starlette keeps it) is not a Coinbase export
    "csv:two-files-first-valid": Deliberate(422, "Ingest Coinbase Csv: Coinbase Statements 'Transaction history' CSV"),
    # "Export Portfolio History": the export answers CSV when Accept asks for it (specs/bitcain.yaml's notes)
    "export:accept=text/csv": Deliberate(200, "Export Portfolio History / timeframe?string: Timeframe for export"),
    # the sandbox's own bounds on a request (docs/every-api.md, "Limits and malformed input"): FastAPI has none
    "create:over-1MiB": Deliberate(413, "(the sandbox's body limit, max_body_bytes)"),
    "create:deep": Deliberate(422, "(the sandbox's nesting limit: 64 levels, MAX_BODY_DEPTH)"),
    # FastAPI itself fails with a 500 when its 422 would have to quote these; the mock answers the 422
    "create:lone-surrogate": Deliberate(422, "(FastAPI answers 500: a lone surrogate cannot be quoted back)"),
    "create:infinity": Deliberate(422, "(FastAPI answers 500: Infinity cannot be quoted back)"),
    "create:minus-infinity": Deliberate(422, "(FastAPI answers 500: -Infinity cannot be quoted back)"),
    "create:huge-exponent": Deliberate(422, "(FastAPI answers 500: 1e400 cannot be quoted back)"),
}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header's values joined by ", "
    body: bytes

    def payload(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Difference:
    kind: str  # what differs, for grouping: "status 404/307", "allow header", "422 body"
    detail: str


@dataclass(frozen=True)
class Servers:
    mock_port: int
    oracle_port: int


async def send(port: int, method: str, target: str, headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> Answer:
    """The request's exact bytes (Connection: close), and the whole answer read to the end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(http_request(method, target.encode(), encoded(list(headers)), body))
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, content = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers_found: dict[str, str] = {}
    for name, _, value in (line.partition(":") for line in lines):
        key = name.strip().lower()
        headers_found[key] = f"{headers_found[key]}, {value.strip()}" if key in headers_found else value.strip()
    if headers_found.get("transfer-encoding") == "chunked":
        content = _unchunked(content)
    return Answer(int(status_line.split()[1]), headers_found, content)


def _unchunked(content: bytes) -> bytes:
    whole = b""
    while content:
        size_line, _, rest = content.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        whole, content = whole + rest[:size], rest[size + 2 :]
    return whole


async def prepare_mock(port: int, probe: Probe) -> str:
    """Reset the mock (requests run in any order); the probe's target with its placeholder filled."""
    await send(port, "POST", "/__mock/reset", [JSON], b"{}")
    if not probe.needs_empty_portfolio:
        return probe.target
    nothing = json.dumps({"name": "Holds nothing", "target_allocations": {"BTC": 1.0}}).encode()
    created = await send(port, "POST", f"{MOUNT}{BASE}/?user_id={SANDBOX_USER}", [AUTH, JSON], nothing)
    assert created.status == 201, created
    return probe.target.replace(EMPTY, created.payload()["portfolio_id"])


async def answers(servers: Servers, probe: Probe) -> tuple[Answer, Answer]:
    """The mock's answer and the oracle's to the same request."""
    target = MOUNT + await prepare_mock(servers.mock_port, probe)
    mock = await send(servers.mock_port, probe.method, target, probe.headers, probe.body)
    oracle = await send(servers.oracle_port, probe.method, target, probe.headers, probe.body)
    return mock, oracle


def differences(mock: Answer, oracle: Answer) -> list[Difference]:
    found = []
    if mock.status != oracle.status:
        found.append(
            Difference(
                f"status {mock.status}/{oracle.status}",
                f"mock {mock.status} {mock.body[:300]!r}; FastAPI {oracle.status} {oracle.body[:300]!r}",
            )
        )
    for name in COMPARED_HEADERS:
        if mock.headers.get(name) != oracle.headers.get(name):
            found.append(Difference(f"{name} header", f"mock {mock.headers.get(name)!r}; FastAPI {oracle.headers.get(name)!r}"))
    if mock.status == oracle.status and 400 <= oracle.status < 500 and mock.payload() != oracle.payload():
        found.append(Difference(f"{oracle.status} body", f"mock {mock.payload()!r}; FastAPI {oracle.payload()!r}"))
    return found


@contextlib.asynccontextmanager
async def mock_server() -> AsyncIterator[int]:
    """The mock on the repository's specs, in-process; yields its port."""
    async with TestServer(create_app(load_settings({"specs": [ROOT / "specs"]}, environ={}))) as server:
        assert server.port is not None
        yield server.port


@contextlib.asynccontextmanager
async def oracle_server() -> AsyncIterator[int]:
    """The FastAPI oracle under uvicorn on this event loop; yields its port."""
    config = uvicorn.Config(create_oracle(MOUNT), host="127.0.0.1", port=0, lifespan="off", log_level="critical", access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # raises why the server did not start
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await serving


@contextlib.asynccontextmanager
async def both_servers() -> AsyncIterator[Servers]:
    async with mock_server() as mock_port, oracle_server() as oracle_port:
        yield Servers(mock_port, oracle_port)


# --- the test --------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def servers() -> AsyncIterator[Servers]:
    async with both_servers() as running:
        yield running


@pytest.mark.asyncio(loop_scope="module")  # both servers live on the module's loop
@pytest.mark.parametrize("probe", PROBES, ids=[probe.id for probe in PROBES])
async def test_answers_as_fastapi_does(servers: Servers, probe: Probe) -> None:
    mock, oracle = await answers(servers, probe)
    deliberate = EXPECTED_DIFFERENCES.get(probe.id)
    if deliberate is not None:
        assert mock.status == deliberate.status, deliberate.why
        assert differences(mock, oracle), f"{probe.id} no longer differs: take it out of EXPECTED_DIFFERENCES"
        return
    found = differences(mock, oracle)
    assert not found, "\n".join(f"{difference.kind}: {difference.detail}" for difference in found)


def test_expected_differences_name_requests() -> None:
    assert set(EXPECTED_DIFFERENCES) <= {probe.id for probe in PROBES}


# --- the summary -----------------------------------------------------------------------------------


async def summary(show_ids: bool) -> None:
    """Every request to both servers; counts, and the differences grouped by kind."""
    by_kind: dict[str, list[tuple[str, str]]] = defaultdict(list)
    same_status = client_errors = same_client_error = 0
    differing = []
    async with both_servers() as running:
        for probe in PROBES:
            mock, oracle = await answers(running, probe)
            found = [] if probe.id in EXPECTED_DIFFERENCES else differences(mock, oracle)
            same_status += mock.status == oracle.status
            if 400 <= oracle.status < 500:
                client_errors += 1
                same_client_error += mock.status == oracle.status and mock.payload() == oracle.payload()
            for difference in found:
                by_kind[difference.kind].append((probe.id, difference.detail))
            if found:
                differing.append(probe.id)
    print(
        f"requests: {len(PROBES)}, status matches: {same_status}, FastAPI 4xx: {client_errors}, whole 4xx body matches: {same_client_error}"
    )
    print(f"requests without difference: {len(PROBES) - len(differing)}, expected differences: {len(EXPECTED_DIFFERENCES)}")
    for kind, cases in sorted(by_kind.items(), key=lambda item: -len(item[1])):
        print(f"\n{kind}: {len(cases)}")
        for probe_id, detail in cases[:3]:
            print(f"  {probe_id}: {detail[:400]}")
    if show_ids:
        print("\n".join(f"    {probe_id!r}," for probe_id in differing))


if __name__ == "__main__":
    asyncio.run(summary("--ids" in sys.argv))
