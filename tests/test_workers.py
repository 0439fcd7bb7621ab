"""`serve --workers N`: several processes on one port, one shared sandbox state."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .helpers import ROOT, running_server, within

USER = "worker-test-user"
BITCAIN = "/bitcain/api/v1/portfolio/"
AUTH = {"Authorization": "Bearer mock-bitcain-token"}


def exchange(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, int, Any]:
    """On one fresh connection (so one worker): ask which process answers, then send the request.
    Returns (worker pid, status, JSON body)."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", "/__mock/health")
        pid = json.loads(connection.getresponse().read())["pid"]
        headers = {**AUTH, "Content-Type": "application/json"} if body is not None else AUTH
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        return pid, response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def until_other_worker(base: str, writer: int, path: str, attempts: int = 200) -> tuple[int, int, Any]:
    """Repeat a read on fresh connections until a worker other than `writer` answers it."""
    for _ in range(attempts):
        pid, status, body = exchange(base, "GET", path)
        if pid != writer:
            return pid, status, body
    raise AssertionError(f"no other worker answered in {attempts} connections")


def test_a_portfolio_created_through_one_worker_is_seen_by_the_others() -> None:
    with running_server("--workers", "2", "--quiet") as base:
        writer, status, created = exchange(
            base, "POST", f"{BITCAIN}?user_id={USER}", {"name": "Shared", "target_allocations": {"BTC": 1.0}}
        )
        assert status == 201, created
        target = f"{BITCAIN}{created['portfolio_id']}?user_id={USER}"

        reader, status, seen = until_other_worker(base, writer, target)
        assert (status, seen["name"], seen["portfolio_id"]) == (200, "Shared", created["portfolio_id"])

        _, status, listed = until_other_worker(base, writer, f"{BITCAIN}?user_id={USER}")
        assert status == 200 and [p["portfolio_id"] for p in listed] == [created["portfolio_id"]]

        # and a delete through the reader is seen by the writer
        pid, status, _ = exchange(base, "DELETE", f"{target}&force=true")
        assert status == 204
        for _ in range(200):
            pid, status, _ = exchange(base, "GET", target)
            if pid == writer:
                break
        assert pid == writer and status == 404
        assert reader != writer


def test_a_session_made_through_one_worker_is_served_by_the_others_with_its_state_and_clock() -> None:
    """Sessions, their state and their clocks are rows of the shared store: every worker serves them."""
    with running_server("--workers", "2", "--quiet") as base:
        writer, status, made = exchange(base, "POST", "/__mock/sessions", {"id": "shared"})
        assert status == 201, made
        prefix = "/__session/shared"
        _, status, created = exchange(
            base, "POST", f"{prefix}{BITCAIN}?user_id={USER}", {"name": "In a session", "target_allocations": {"BTC": 1.0}}
        )
        assert status == 201, created
        _, status, moved = exchange(base, "POST", f"{prefix}/__mock/clock/advance", {"days": 2})
        assert status == 200
        _, status, listed = until_other_worker(base, writer, f"{prefix}{BITCAIN}?user_id={USER}")
        assert status == 200 and [p["name"] for p in listed] == ["In a session"]
        _, status, clock = until_other_worker(base, writer, f"{prefix}/__mock/clock")
        assert clock["now"] == moved["now"]
        _, status, default = until_other_worker(base, writer, f"{BITCAIN}?user_id={USER}")
        assert default == []  # the default session holds none of it


def test_worker_count_is_checked() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "serve", "--workers", "0"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert completed.returncode == 2 and "workers must be within 1..64" in completed.stderr


def test_state_file_is_shared_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    with running_server("--workers", "2", "--quiet", "--state", str(state)) as base:
        _, status, created = exchange(base, "POST", f"{BITCAIN}?user_id={USER}", {"name": "Kept", "target_allocations": {"BTC": 1.0}})
        assert status == 201
    with running_server("--quiet", "--state", str(state)) as base:  # one process, same file
        _, status, seen = exchange(base, "GET", f"{BITCAIN}{created['portfolio_id']}?user_id={USER}")
        assert status == 200 and seen["name"] == "Kept"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_parent_stops_every_worker(stop: signal.Signals, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--workers", "2", "--quiet"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        base = process.stdout.readline().split("listening on ")[1].strip()
        pids = set()
        deadline = time.monotonic() + 20
        while len(pids) < 2 and time.monotonic() < deadline:
            pids.add(exchange(base, "GET", "/__mock/health")[0])
        assert len(pids) == 2 and process.pid not in pids
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0
        for pid in pids:  # the workers are gone (reaped by the parent)
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        process.kill()
        process.wait()


@contextmanager
def workers_server(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`serve --port 0 --workers 2 --quiet ARGS`, its banner not read yet; killed at the end."""
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--workers", "2", "--quiet", *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def children(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie (its parent died and nobody reaps it here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_workers_stop_when_the_parent_is_killed() -> None:
    with workers_server() as process:
        assert process.stdout is not None
        base = process.stdout.readline().split("listening on ")[1].strip()
        pids = children(process.pid)
        assert len(pids) == 2 and {exchange(base, "GET", "/__mock/health")[0]} <= pids
        process.kill()  # SIGKILL: the parent can pass nothing on
        process.wait()
        assert within(20, lambda: all(gone(pid) for pid in pids))
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=5)


def test_sigterm_while_the_workers_start_stops_them_all() -> None:
    with workers_server() as process:
        assert within(20, lambda: len(children(process.pid)) == 2)  # forked; loading the specs takes them a while
        pids = children(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert within(20, lambda: all(gone(pid) for pid in pids))


@pytest.mark.parametrize("mode", [("--workers", "2"), ("--watch",)], ids=["workers", "watch"])
def test_a_second_server_on_a_busy_port_fails_with_address_in_use(mode: tuple[str, ...]) -> None:
    """No SO_REUSEPORT: a second server (restarted, or any other) cannot share the port and split its traffic."""
    with running_server("--quiet", *mode) as base:
        port = base.rsplit(":", 1)[1]
        command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", port, "--quiet", *mode]
        second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and second.stderr.strip() == f"mockserver: cannot listen on 127.0.0.1:{port}: Address already in use"
        assert exchange(base, "GET", "/__mock/health")[1] == 200
