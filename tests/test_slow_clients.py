"""Slow and many clients, against a real `mockserver serve` process over raw sockets: a request
head must arrive within --header-timeout, its body within --body-timeout (else 408 in the API's
envelope), and connections beyond the cap are closed at once while the others are served."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from .helpers import ROOT, running_server
from .raw_http import APIS, WRITES, RawResponse, assert_raw_envelope

TIMEOUTS = ("--header-timeout", "0.5", "--body-timeout", "0.5", "--keepalive-timeout", "2")
HEALTH = b"GET /__mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with running_server("--quiet", *TIMEOUTS) as base:
        yield int(base.rsplit(":", 1)[1])


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as a close).
    A server that keeps the connection open fails the test with a timeout."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def response(sock: socket.socket) -> RawResponse:
    """One whole response (by its Content-Length) read from the socket."""
    answer = answer_or_close(sock)
    assert answer is not None, "closed without an answer"
    return answer


def answer_or_close(sock: socket.socket) -> RawResponse | None:
    """One whole response, or None when the server closes the connection without one."""
    try:
        received = sock.recv(65536)
    except ConnectionResetError:
        return None
    if not received:
        return None
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed in the middle of a head: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of a body"
        body += chunk
    return RawResponse(int(status_line.split()[1]), headers, body)


def test_half_a_request_line_is_closed(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET /__mock/hea")
        assert until_closed(sock) == b""


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    with connect(port) as sock:
        assert until_closed(sock) == b""


def test_a_head_trickled_byte_by_byte_is_closed_before_it_is_whole(port: int) -> None:
    """Bytes that keep coming do not extend the deadline: it runs from the head's first byte."""
    head = b"GET /__mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 100 + b"\r\n\r\n"
    sent = 0
    with connect(port) as sock:
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert until_closed(sock) == b""
    assert sent < len(head)


def test_a_kept_alive_connection_may_wait_longer_than_the_header_timeout(port: int) -> None:
    """Between requests the keep-alive timeout applies: the deadline starts with the next head's first byte."""
    with connect(port) as sock:
        sock.sendall(HEALTH)
        assert response(sock).status == 200
        time.sleep(1.0)  # twice the header timeout
        sock.sendall(HEALTH)
        assert response(sock).status == 200


def test_an_idle_kept_alive_connection_is_closed_after_the_keepalive_timeout(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(HEALTH)
        assert response(sock).status == 200
        started = time.monotonic()
        assert until_closed(sock) == b""  # closed by the server, without a word
        assert time.monotonic() - started >= 1.5  # by the keep-alive timeout (2 s), not the header timeout (0.5 s)


def test_a_head_split_in_two_in_time_is_served(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(HEALTH[:10])
        time.sleep(0.1)
        sock.sendall(HEALTH[10:])
        assert response(sock).status == 200


@pytest.mark.parametrize("api", APIS)
def test_a_stalled_body_is_answered_408_in_the_api_envelope_and_closed(port: int, api: str) -> None:
    method, target = WRITES[api][0]
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    with connect(port) as sock:
        sock.sendall(head.encode() + b'{"name": ')
        answer = response(sock)
        assert answer.status == 408, answer
        assert answer.headers.get("connection", "").lower() == "close", answer
        assert_raw_envelope(api, answer)
        assert until_closed(sock) == b""


def test_a_body_in_pieces_within_the_timeout_is_read(port: int) -> None:
    body = b'{"query": "{ __typename }"}'
    head = b"POST /bitpanda/graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nx-api-key: mock-api-key\r\n"
    with connect(port) as sock:
        sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
        time.sleep(0.1)
        sock.sendall(body[5:])
        answer = response(sock)
        assert answer.status == 200, answer
        sock.sendall(HEALTH)  # and the connection stays usable
        assert response(sock).status == 200


def test_connections_over_the_cap_are_closed_while_the_others_are_served() -> None:
    with running_server("--quiet", "--max-connections", "3", "--header-timeout", "60") as base:
        port = int(base.rsplit(":", 1)[1])
        with ExitStack() as stack:
            held = [stack.enter_context(connect(port)) for _ in range(3)]
            for sock in held:
                sock.sendall(HEALTH)
                assert response(sock).status == 200
            with connect(port) as over:
                over.sendall(HEALTH)
                assert until_closed(over) == b""
            for sock in held:  # still served
                sock.sendall(HEALTH)
                assert response(sock).status == 200
            held.pop().close()
            assert served_on_a_new_connection(port, attempts=50)


def served_on_a_new_connection(port: int, attempts: int) -> bool:
    """Whether one of `attempts` new connections (a short pause between them) gets an answer."""
    for _ in range(attempts):
        with connect(port) as sock:
            sock.sendall(HEALTH)
            if answer_or_close(sock) is not None:
                return True
        time.sleep(0.05)
    return False


def test_the_automatic_cap_stays_below_the_descriptor_limit() -> None:
    """With 128 descriptors, the server takes 64 connections (128 less its headroom of 64) and
    closes the rest, instead of running out of descriptors."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--quiet", "--header-timeout", "60"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard)),
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().rsplit(":", 1)[1])
        with ExitStack() as stack:
            sockets = [stack.enter_context(connect(port)) for _ in range(100)]
            for sock in sockets:
                sock.sendall(HEALTH)
            served = sum(answer_or_close(sock) is not None for sock in sockets)
            assert served == 64
            sockets[0].sendall(HEALTH)
            assert response(sockets[0]).status == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
