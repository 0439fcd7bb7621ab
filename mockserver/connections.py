"""Connections: the listening sockets a server binds once, and the protocol that serves each connection.

Every port is bound once, without SO_REUSEPORT, so no other process can join it: a second
server on a busy port fails with "address already in use". A reload serves the same sockets
(each version through a duplicate descriptor of its own), and `--workers` processes inherit
them from the parent that bound them.

`Connection` is aiohttp's request handler with what it lacks for slow or many clients:

- a request's head must arrive within `header_read_timeout` seconds (of a new connection's
  accept, or of the first byte of a kept-alive connection's next request), else the
  connection is closed; an idle kept-alive connection waits for aiohttp's keep-alive timeout;
- its body within `body_read_timeout` seconds of its head, else reading it fails with
  `BodyTimeout` and the request is answered 408 with `Connection: close` (see the limits stage, pipeline.py);
- beyond the process's connection cap (`limits.connection_cap`), a new connection is closed at once;
- a retired connection (its version was replaced by a reload) answers its next request with
  `Connection: close`, so a client never sends a request on a connection about to close.

A deadline is one timer handle per connection, armed only while a head or body is incomplete:
a request that arrives whole costs no timer at all.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine, HttpProcessingError, InvalidURLError, LineTooLong
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from .limits import BodyTimeout
from .settings import Settings

log = logging.getLogger("mockserver")
BACKLOG = 128  # aiohttp's own default for a site
WARN_EVERY_SECONDS = 60.0  # refusals over the connection cap are logged at most this often
# what the parser's plain-text 400 says, by the parser's error (the first class in its MRO found
# here): aiohttp's own text quotes the offending line, and a header line may carry a credential
MALFORMED = {
    LineTooLong: "a request line or header is longer than this server accepts",
    BadHttpMethod: "the request method is not valid (HTTPS sent to an HTTP port?)",
    BadStatusLine: "the request line is not valid",
    InvalidURLError: "the request target is not valid",
    HttpProcessingError: "the request line or a header is malformed (a control character, a line without a colon, a bad framing header)",
}


class ListenError(OSError):
    """A port that cannot be listened on; its text is one line for the user."""

    def __str__(self) -> str:
        return str(self.strerror)


Listeners = dict[str, list[socket.socket]]  # "" for the main site, else the API name -> its sockets


def listeners_for(settings: Settings) -> Listeners:
    """The sockets a server listens on, the main site's and each API's own port's, bound now."""
    return {key: bind(settings.host, port) for key, port in {"": settings.port, **settings.api_ports}.items()}


def bound_ports(listeners: Listeners) -> dict[str, int]:
    """The port each site listens on (a 0 asked for is the one the kernel chose)."""
    return {key: sockets[0].getsockname()[1] for key, sockets in listeners.items()}


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address of `host`, all on one port (a 0 becomes one free port).

    Raises ListenError (an OSError) for a port in use, a host that does not resolve, or a
    port out of range."""
    where = f"[{host}]:{port}" if ":" in host else f"{host or '*'}:{port}"
    if not 0 <= port <= 65535:
        raise ListenError(errno.EINVAL, f"cannot listen on {where}: a port is within 0..65535")
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ListenError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from exc
    bound: list[socket.socket] = []
    try:
        for family, address in dict.fromkeys((family, address) for family, _, _, _, address in addresses):
            if bound:  # the first one chose the port (when 0): the others take the same
                address = (address[0], bound[0].getsockname()[1], *address[2:])
            bound.append(_listening(family, address))
    except OSError as exc:
        for sock in bound:
            sock.close()
        raise ListenError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from exc
    return bound


def _listening(family: int, address: tuple[Any, ...]) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does: restart past TIME_WAIT
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def close_all(listeners: Listeners) -> None:
    for sockets in listeners.values():
        for sock in sockets:
            sock.close()


@dataclass(frozen=True, slots=True)
class Timeouts:
    header: float
    body: float


class Gate:
    """The connections one process has open, against its cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.open = 0
        self.refused = 0  # since the last warning
        self._warned_at = -WARN_EVERY_SECONDS

    def enter(self) -> bool:
        if self.open < self.cap:
            self.open += 1
            return True
        self.refused += 1
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            log.warning(
                "%d connections are open, the most this process takes (setting max_connections): closed %d new ones",
                self.open,
                self.refused,
            )
            self._warned_at, self.refused = now, 0
        return False

    def leave(self) -> None:
        self.open -= 1


class Connection(RequestHandler):
    """aiohttp's request handler with read deadlines, a connection cap and retirement (see the module)."""

    __slots__ = ("_admitted", "_body", "_gate", "_retiring", "_timeouts", "_timer")

    def __init__(self, manager: web.Server, *, gate: Gate, timeouts: Timeouts, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._gate = gate
        self._timeouts = timeouts
        self._timer: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None  # a body still arriving, under its deadline
        self._retiring = False
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._gate.enter():
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._arm(self._timeouts.header, self._head_timed_out)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        self._gate.leave()
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        count = self._request_count
        super().data_received(data)
        if self._request_count != count:  # one head or more is complete
            if self._timer is not None:
                self._disarm()
            body = self._messages[-1][1] if self._messages else None
            if body is not None and not body.is_eof():
                self._body = body
                self._arm(self._timeouts.body, self._body_timed_out)
        elif self._body is not None:
            if self._body.is_eof():
                self._disarm()
        elif self._timer is None and not self._upgraded:  # the first bytes of a head
            self._arm(self._timeouts.header, self._head_timed_out)

    def retire(self) -> None:
        """Answer the next request with `Connection: close` (a reload replaced this version)."""
        self._retiring = True

    @property
    def busy(self) -> bool:
        """A request is being handled, or waits for its turn."""
        return self._request_in_progress or bool(self._messages)

    def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> Coroutine[Any, Any, tuple[web.StreamResponse, bool]]:
        # a plain function handing on aiohttp's coroutine: no coroutine of its own per request
        if self._retiring:
            resp.force_close()
        return super().finish_response(request, resp, start_time)

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError):
            message = f"Bad Request: {malformed(exc)}"
        return super().handle_error(request, status, exc, message)

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._timer = self._loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        """No deadline (a body is under one only while its timer runs)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._body = None

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._request_in_progress:  # a request before the stalled head still gets its answer
            self.close()
        else:
            self.force_close()

    def _body_timed_out(self) -> None:
        body, self._timer, self._body = self._body, None, None
        if body is not None and not body.is_eof():
            body.set_exception(BodyTimeout(self._timeouts.body))


def malformed(exc: HttpProcessingError) -> str:
    """What is wrong with a request the parser refused, without a byte of it."""
    return next(MALFORMED[kind] for kind in type(exc).__mro__ if kind in MALFORMED)


class ListeningSite(web.BaseSite):
    """A site on a socket bound elsewhere, served by `protocol` (aiohttp's SockSite always
    serves its own request handler). It listens on a duplicate descriptor: stopping the
    site leaves the bound socket open for the next version."""

    __slots__ = ("_protocol", "_sock")

    def __init__(self, runner: web.BaseRunner, sock: socket.socket, protocol: Callable[[], asyncio.Protocol]) -> None:
        super().__init__(runner, backlog=BACKLOG)
        self._sock = sock.dup()
        self._protocol = protocol

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, sock=self._sock, backlog=self._backlog)


def retire(runner: web.BaseRunner) -> None:
    """Each connection of a runner answers its next request with `Connection: close`."""
    for connection in _connections(runner):
        connection.retire()


def lingering(runners: list[web.AppRunner], idle_too: bool) -> bool:
    """Whether the runners have a connection to wait for: one with a request in flight, or any when `idle_too`."""
    return any(idle_too or connection.busy for runner in runners for connection in _connections(runner))


def _connections(runner: web.BaseRunner) -> list[Connection]:
    server = runner.server
    return [connection for connection in server.connections if isinstance(connection, Connection)] if server is not None else []
