"""Runs every plain-text case in tests/cases/ (format: tests/cases/README.md), all against one app
that is reset before each case: loading the specs is the slow part, a reset is not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from mockserver.app import create_app
from mockserver.settings import load_settings

from .helpers import ROOT, TEST_SPECS

CASES = sorted((Path(__file__).parent / "cases").glob("*.txt"))
# the module's app lives on one event loop, so its cases run on that loop too
pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Case:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    status: int
    expect_headers: dict[str, str] = field(default_factory=dict)
    fragments: list[str] = field(default_factory=list)


def parse_case(path: Path) -> Case:
    request_text, _, expected_text = path.read_text(encoding="utf-8").partition("\n---\n")
    lines = [line for line in request_text.splitlines() if not line.startswith("#")]
    method, target = lines[0].split(" ", 1)
    headers: dict[str, str] = {}
    index = 1
    while index < len(lines) and lines[index].strip():
        name, _, value = lines[index].partition(":")
        headers[name.strip()] = value.strip()
        index += 1
    body = "\n".join(lines[index + 1 :]).strip().encode()
    expected = [line for line in expected_text.splitlines() if line.strip()]
    case = Case(method, target, headers, body, int(expected[0]))
    for line in expected[1:]:
        if line.startswith("> "):
            name, _, value = line[2:].partition(":")
            case.expect_headers[name.strip()] = value.strip()
        else:
            case.fragments.append(line)
    return case


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app_client() -> AsyncIterator[TestClient]:
    """One app for the module: the bundled specs and fixtures, and tests/specs."""
    settings = load_settings({"specs": [ROOT / "specs", TEST_SPECS], "fixtures": [ROOT / "fixtures", TEST_SPECS / "fixtures"]}, environ={})
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def client(app_client: TestClient) -> TestClient:
    """The module's app with its state, journal and faults back to where they started."""
    (await app_client.post("/__mock/reset", json={})).raise_for_status()
    return app_client


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
async def test_case(client: TestClient, path: Path) -> None:
    case = parse_case(path)
    response = await client.request(case.method, case.target, headers=case.headers, data=case.body or None)
    text = await response.text()
    assert response.status == case.status, text
    for name, value in case.expect_headers.items():
        assert response.headers.get(name) == value
    for fragment in case.fragments:
        assert fragment in text, f"{fragment!r} not in {text}"
