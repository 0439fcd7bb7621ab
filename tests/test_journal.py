"""The request journal over real HTTP: path patterns that cannot stall the server, whatever paths
clients planted, and header bytes that are not UTF-8, which the journal must still read out."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import re2
import requests

from mockserver.journal import MAX_BODY_CHARS, MAX_PATTERN_CHARS, MAX_PATTERN_PROGRAM, Matcher
from mockserver.pytest_plugin import MockServerClient
from mockserver.traffic import TRAFFIC

from .helpers import JSON, MESH_AUTH, PORTFOLIO, running_server

REQUESTS = "/__mock/requests"
COUNT = "/__mock/requests/count"
# exponential for a backtracking engine against a long run of a's that ends in another character
PATHOLOGICAL = "^/(a+)+$"
LONG_PATH = "/" + "a" * 4000 + "!"
PLANTED = 200
RE2_PATTERN = type(re2.compile(""))


class Server:
    """A real server process, its base URL and its log."""

    def __init__(self, base: str, log: Path) -> None:
        self.base = base
        self.log = log
        self.http = requests.Session()

    def journal(self, timeout: float = 10, **params: str) -> requests.Response:
        return self.http.get(self.base + REQUESTS, params=params, timeout=timeout)

    def count(self, matcher: dict[str, object], timeout: float = 10) -> requests.Response:
        return self.http.post(self.base + COUNT, json=matcher, headers=JSON, timeout=timeout)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    log = tmp_path / "server.log"
    with running_server("--log-format", "json", log_path=log) as base:
        yield Server(base, log)


def test_a_path_pattern_is_compiled_by_re2() -> None:
    """By construction: every pattern runs on RE2, in time linear in the path (no backtracking)."""
    assert isinstance(Matcher(path=PATHOLOGICAL).path_regex, RE2_PATTERN)
    assert Matcher(path="/exact").path_regex is None  # an exact path is compared, not searched


def test_a_pathological_pattern_over_many_long_planted_paths_answers_at_once(server: Server) -> None:
    """Any client can plant paths; a backtracking engine spends 2^4000 steps on each of these
    with this pattern. RE2 answers every route that matches with it, and the server serves others."""
    for _ in range(PLANTED):
        assert server.http.get(server.base + LONG_PATH, timeout=10).status_code == 404
    started = time.monotonic()
    listed = server.journal(path=PATHOLOGICAL, timeout=30)
    assert listed.status_code == 200
    assert listed.json()["total"] == 0
    assert server.count({"path": PATHOLOGICAL}, timeout=30).json() == {"count": 0}
    assert MockServerClient(server.base).journal(path=PATHOLOGICAL) == []
    assert time.monotonic() - started < 20  # a generous sanity bound: the assertions above are what count
    # the same engine does find what a pattern means
    assert server.journal(path="^/a+!$", limit="1000").json()["total"] == PLANTED
    assert server.count({"path": "^/a{3}a*!$"}).json() == {"count": PLANTED}
    assert server.http.get(server.base + PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH, timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("^/(a)\\1", "no backreferences"),  # Python's re accepts it: refused, not run in another engine
        ("^/(?=a)", "invalid perl operator"),
        ("^/(?<!a)b", "invalid perl operator"),
        ("^/(unclosed", "RE2 refuses"),
        ("^/" + "a" * (MAX_PATTERN_CHARS - 1), f"at most {MAX_PATTERN_CHARS} characters"),
        ("^/.{100}", f"RE2 instructions, at most {MAX_PATTERN_PROGRAM})"),
        ("^/.{1000}", "pattern too large"),  # beyond the memory RE2 is given
    ],
)
def test_a_pattern_re2_refuses_or_too_large_is_a_400_saying_why(server: Server, pattern: str, says: str) -> None:
    server.http.get(server.base + "/aaa", timeout=10)
    for response in (server.journal(path=pattern), server.count({"path": pattern})):
        assert response.status_code == 400
        assert response.headers["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 400 and problem["detail"].startswith("path: ")
        assert says in problem["detail"]
    log = server.log.read_text()
    assert "Traceback" not in log and "re2" not in log.lower()  # RE2 prints nothing of its own


def raw_request(base: str, head: bytes) -> bytes:
    """Send a request's raw bytes; the answer's status line."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(head)
        return connection.recv(4096).split(b"\r\n", 1)[0]


def test_a_header_that_is_not_utf8_reads_out_of_the_journal(server: Server) -> None:
    """The parser keeps the bytes it cannot decode; the journal shows each as U+FFFD, so its
    entries (the dashboard's data, the plugin's journal()) still answer 200."""
    head = (
        b"GET /mesh/api/v1/holdings/portfolio?UserId=alice HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"X-Client-Id: mock-client-id\r\nX-Client-Secret: sk_sand_mock_secret\r\n"
        b"X-Note: caf\xff\xe9 ok\r\nX-Name: caf\xc3\xa9\r\nX-Api-Key: \xff\xfe\r\nConnection: close\r\n\r\n"
    )
    assert raw_request(server.base, head) == b"HTTP/1.1 200 OK"
    listed = server.journal()
    assert listed.status_code == 200
    [entry] = listed.json()["requests"]
    assert entry["headers"]["X-Note"] == ["caf\ufffd\ufffd ok"]
    assert entry["headers"]["X-Name"] == ["café"]  # UTF-8 reads as it was sent
    assert entry["headers"]["X-Api-Key"] == ["<redacted>"]
    assert server.journal(limit="50").status_code == 200  # what the dashboard asks for
    assert server.count({"headers": {"x-note": "caf\ufffd\ufffd ok"}}).json() == {"count": 1}
    assert MockServerClient(server.base).journal(api="mesh")[0]["headers"]["X-Note"] == ["caf\ufffd\ufffd ok"]
    assert "Traceback" not in server.log.read_text()


async def test_the_journal_holds_at_most_its_bytes_and_weighs_what_it_keeps(make_client: Any) -> None:
    client = await make_client(journal_bytes=262_144, journal_size=1000)
    journal = client.app[TRAFFIC].journal
    tracemalloc.start()
    try:
        for number in range(40):  # 40 requests of about 30 KB of headers each: over 1 MB if all were kept
            headers = {**MESH_AUTH, **{f"X-Pad-{n}": "p" * 1000 for n in range(30)}}
            response = await client.get(PORTFOLIO, params={"UserId": f"u{number}"}, headers=headers)
            assert response.status == 200
        listed = await client.get("/__mock/requests", params={"limit": "1000"})  # read out: the redacted copies are made
        kept = [entry["query"]["UserId"] for entry in (await listed.json())["requests"]]
        weighed = journal.held_bytes
        gc.collect()
        holding = tracemalloc.get_traced_memory()[0]
        journal.clear()
        gc.collect()
        held = holding - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert 0 < len(kept) < 40 and weighed <= 262_144
    assert kept[0] == ["u39"] and kept == [[f"u{n}"] for n in range(39, 39 - len(kept), -1)]  # the newest
    assert held <= weighed <= 3 * held, (held, weighed)  # what it counts covers what it holds, and not wildly more


async def test_a_path_pattern_is_matched_off_the_event_loop(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await make_client()
    threads: list[str] = []
    original = asyncio.to_thread

    async def to_thread(function: Any) -> Any:
        threads.append("pattern")
        return await original(function)

    monkeypatch.setattr("mockserver.control.asyncio.to_thread", to_thread)
    assert (await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)).status == 200
    by_pattern = await client.get("/__mock/requests", params={"path": "^/mesh/.*portfolio$"})
    assert by_pattern.status == 200 and (await by_pattern.json())["total"] == 1
    assert threads == ["pattern"]
    exact = await client.get("/__mock/requests", params={"path": PORTFOLIO})  # an exact path is compared inline
    assert (await exact.json())["total"] == 1 and threads == ["pattern"]


async def test_each_answer_is_kept_small_redacted_and_weighed(make_client: Any) -> None:
    """The answer's body is kept like the request's: shown when small (secret members redacted), else
    described by its size; what it keeps counts in the entry's weight."""
    client = await make_client()
    journal = client.app[TRAFFIC].journal
    small = await client.get(PORTFOLIO, params={"UserId": "answers"}, headers=MESH_AUTH)
    sent = await small.read()
    assert journal.newest_first()[0].weight >= len(sent)
    issued = await client.post(
        "/treasure/v1/oauth/token", json={"client_id": "mock-treasure-client", "client_secret": "mock-treasure-secret"}
    )
    token = (await issued.json())["access_token"]
    history = await client.get(
        "/bitcain/api/v1/portfolio/history", params={"timeframe": "1Y"}, headers={"Authorization": "Bearer mock-bitcain-token"}
    )
    large = await history.read()
    assert len(large) > MAX_BODY_CHARS
    assert journal.newest_first()[0].weight < len(large)  # its size is kept, not its bytes
    listed = await client.get(REQUESTS)
    text = await listed.text()
    history_entry, token_entry, mesh_entry = (await listed.json())["requests"][:3]
    assert mesh_entry["status"] == 200 and mesh_entry["responseType"].startswith("application/json")
    assert mesh_entry["responseBody"] == orjson.loads(sent)
    assert token_entry["responseBody"]["access_token"] == "<redacted>" and token not in text
    assert history_entry["responseBody"] == f"<{len(large)} bytes of application/json>"
