"""`--watch` reloads under traffic, against a real server: clients keep POSTing on kept-alive
connections while the specs change several times, and not one request fails; a request in
flight when its version is replaced gets its answer."""

from __future__ import annotations

import asyncio
import gc
import http.client
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from mockserver.connections import close_all
from mockserver.plan import ApiRuntime
from mockserver.server import Server
from mockserver.settings import load_settings

from .helpers import ROOT, running_server, within

QUERY = json.dumps({"query": "{ __typename }"})
HEADERS = {"Content-Type": "application/json", "x-api-key": "mock-api-key"}
RELOADED = "mockserver: reloaded specs and fixtures"


@dataclass
class Watched:
    base: str
    log: Path
    spec: Path

    def reloads(self) -> int:
        return self.log.read_text().count(RELOADED)

    def change_spec(self, mark: str) -> None:
        with self.spec.open("a") as spec:
            spec.write(f"\n# {mark}\n")


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    specs, fixtures = tmp_path / "specs", tmp_path / "fixtures"
    shutil.copytree(ROOT / "specs", specs)
    shutil.copytree(ROOT / "fixtures", fixtures)
    log = tmp_path / "server.log"
    with running_server("--quiet", "--watch", "--specs", str(specs), "--fixtures", str(fixtures), log_path=log) as base:
        yield Watched(base, log, specs / "mesh.yaml")


@dataclass(eq=False)  # a thread is hashed by identity
class Client(threading.Thread):
    """POSTs a GraphQL query again and again on one kept-alive connection (http.client, which
    opens a new one after a `Connection: close` answer and never retries a failed request)."""

    base: str
    stop: threading.Event
    answered: int = 0
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        address = urlsplit(self.base)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        while not self.stop.is_set():
            try:
                connection.request("POST", "/bitpanda/graphql", body=QUERY, headers=HEADERS)
                response = connection.getresponse()
                body = response.read()
                if response.status == 200:
                    self.answered += 1
                else:
                    self.failures.append(f"{response.status} {body[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                connection.close()
        connection.close()


def test_reloads_under_load_drop_no_request(watched: Watched) -> None:
    stop = threading.Event()
    clients = [Client(watched.base, stop) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        for reload in range(1, 7):
            answered = sum(client.answered for client in clients)
            watched.change_spec(f"reload {reload}")
            assert within(60, lambda: watched.reloads() == reload), watched.log.read_text()[-3000:]  # noqa: B023 (this iteration's count)
            assert within(30, lambda: sum(client.answered for client in clients) > answered + 20)  # noqa: B023
    finally:
        stop.set()
        for client in clients:
            client.join(60)
    assert [failure for client in clients for failure in client.failures] == []
    assert watched.reloads() == 6


def test_a_request_in_flight_during_a_reload_gets_its_answer(watched: Watched) -> None:
    fault = {"api": "bitpanda", "latencyMs": 4000}
    assert requests.post(watched.base + "/__mock/faults", json=fault, timeout=10).status_code == 201
    answers: list[int] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            requests.post(watched.base + "/bitpanda/graphql", data=QUERY, headers=HEADERS, timeout=30).status_code
        )
    )
    slow.start()
    watched.change_spec("reload while a request waits")
    assert within(60, lambda: watched.reloads() == 1)
    still_in_flight = slow.is_alive()
    slow.join(30)
    assert answers == [200]
    assert still_in_flight  # the version was replaced while the request waited


async def test_reloads_leave_no_earlier_version_behind(tmp_path: Path) -> None:
    """Every reload compiles a new version; once it is retired, nothing keeps the old one (or its
    caches) reachable: after ten reloads only the serving version's APIs are alive."""
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    server = Server(load_settings({"specs": [specs], "port": 0}, environ={}))
    server.version = await server.start()
    try:
        for number in range(10):
            with (specs / "mesh.yaml").open("a") as spec:
                spec.write(f"\n# reload {number}\n")  # new bytes: checked and compiled afresh
            assert await server.reload()
        while server.retiring:
            await asyncio.gather(*server.retiring)
        gc.collect()
        alive = [api for api in gc.get_objects() if isinstance(api, ApiRuntime)]
        assert {id(api) for api in alive} <= {id(api) for api in server.version.apis}
    finally:
        server.stopping.set()
        await server._drain(server.version.runners)
        server.store.close()
        close_all(server.listeners)
