"""Shared test helpers: paths and credentials, the client factory's type, a real server process on a
free port (and a fixture of one per test module), waiting for a condition, and sessions, control calls
and scenarios over HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mockserver.sandbox.world import World
from mockserver.settings import DEFAULT_CLOCK

ROOT = Path(__file__).resolve().parent.parent
TEST_SPECS = ROOT / "tests" / "specs"
MESH_AUTH = {"X-Client-Id": "mock-client-id", "X-Client-Secret": "sk_sand_mock_secret"}
PORTFOLIO = "/mesh/api/v1/holdings/portfolio"
JSON = {"Content-Type": "application/json"}  # what every control write says
PROBLEM = "application/problem+json"

# the default sandbox clock (frozen), in epoch seconds: what every "now" of the sandbox is, tokens' too
SANDBOX_NOW = int(datetime.fromisoformat(DEFAULT_CLOCK).timestamp())

# what the `make_client` fixture (tests/conftest.py) is: settings as keyword arguments -> a client
MakeClient = Callable[..., Awaitable[TestClient]]


def price_usd(symbol: str, at: datetime, seed: int = 0) -> float:
    """An asset's USD price at an instant, as the market of a world with this seed gives it."""
    return World(seed).market.price_usd(symbol, at)


@contextlib.contextmanager
def running_server(
    *args: str, env: dict[str, str] | None = None, timeout: float = 20.0, log_path: Path | None = None, banner: list[str] | None = None
) -> Iterator[str]:
    """Start `mockserver serve --port 0 ARGS` in a subprocess; yield its base URL; stop it.

    Its log goes to a file (`log_path`, or a temporary one), not a pipe: nobody reads a
    pipe while tests run, and a full pipe would block the server. The banner's lines are
    appended to `banner` when given."""
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", *args]
    log = open(log_path, "w+") if log_path else tempfile.TemporaryFile(mode="w+")  # closed in finally
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, **(env or {})}, cwd=ROOT)
    try:
        deadline = time.monotonic() + timeout
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and "listening on" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            process.kill()
            log.seek(0)
            raise RuntimeError(f"server did not start: {line!r} {log.read()}")
        if banner is not None:
            banner.append(line)
            while line.strip() and "health" not in line:  # the banner ends with the health line
                line = process.stdout.readline()
                banner.append(line)
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def served_at(mount: str, *args: str) -> Any:
    """A module-scoped fixture (named by the attribute it is assigned to): a real `mockserver serve
    ARGS` process for the test module, its URL with `mount` appended."""

    @pytest.fixture(scope="module")
    def url() -> Iterator[str]:
        with running_server(*args) as base:
            yield base + mount

    return url


def within(seconds: float, check: Callable[[], bool]) -> bool:
    """Whether `check` comes true within `seconds` (asked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def bitcain_only(folder: Path) -> Path:
    """`folder` with only the bitcain spec in it: the one API that writes state, and a fast load."""
    shutil.copyfile(ROOT / "specs" / "bitcain.yaml", folder / "bitcain.yaml")
    return folder


class InSession:
    """A client that sends every path under a base path (a session's prefix; "" for the default
    session), as a client configured with only a base URL does. Vendor test helpers take it as a client."""

    def __init__(self, client: TestClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.id = prefix.removeprefix("/__session/")

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, self.prefix + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


async def open_session(client: TestClient, **body: Any) -> InSession:
    """A new session (POST /__mock/sessions with `body`), as a client under its prefix."""
    response = await client.post("/__mock/sessions", json=body)
    described = await response.json()
    assert response.status == 201, described
    return InSession(client, f"/__session/{described['id']}")


async def session_of(client: TestClient, name: str) -> str:
    """A new session with the id `name`: its prefix."""
    return (await open_session(client, id=name)).prefix


async def control(sandbox: InSession | TestClient, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A /__mock call (in the sandbox's session, if any) that succeeds; its JSON answer."""
    response = await sandbox.request(method, f"/__mock{path}", json=body, headers=JSON)
    payload = await response.json()
    assert response.status in (200, 201), payload
    return payload


async def install(client: TestClient, prefix: str, scenario: Any) -> tuple[int, Any]:
    """POST a scenario to the sandbox under `prefix` (a session's, or "" for the default one): the
    answer's status and body, refused or not."""
    response = await client.post(f"{prefix}/__mock/scenarios", json=scenario, headers=JSON)
    return response.status, await response.json()


async def problem(response: aiohttp.ClientResponse, status: int) -> str:
    """The detail of a problem+json answer, after checking its status and media type."""
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == PROBLEM
    body = await response.json()
    assert body["status"] == status
    return str(body["detail"])
