"""Serving: the main site, each API's own port, and live reload of specs and fixtures.

Each port is bound once (connections.py) and every version of the specs and fixtures serves
the same sockets. A reload starts the new version on them, then retires the old one: it takes
no new connection, answers the next request on each of its connections with `Connection:
close` (the client's next request opens a connection to the new version) and finishes those
in flight; a connection still idle after RETIRE_SECONDS is closed. So no request is refused or
dropped across a reload. A version that fails to load is reported and the previous one keeps serving.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from .app import create_app, load_or_fail, new_traffic, open_store
from .catalog import bundled_dir
from .connections import Connection, Gate, Listeners, ListeningSite, Timeouts, bound_ports, close_all, lingering, listeners_for, retire
from .limits import connection_cap, parser_limits
from .mounted import MountedApi
from .settings import Settings

log = logging.getLogger("mockserver")
Announce = Callable[[str, list[MountedApi], dict[str, str]], None]
# How long requests in flight at SIGTERM may take: aiohttp waits this long for a handler, then as
# long again once it cancels it, so a stop takes at most twice this, within `docker stop`'s 10 s.
DRAIN_SECONDS = 4.0
RETIRE_SECONDS = 2.0  # how long a retired version waits for its idle connections' next request
RETIRE_POLL_SECONDS = 0.05


@dataclass
class Version:
    """One loaded version of the specs and fixtures: its runners, one per port."""

    runners: list[web.AppRunner] = field(default_factory=list)
    apis: list[MountedApi] = field(default_factory=list)


class Server:
    def __init__(self, settings: Settings, listeners: Listeners | None = None) -> None:
        """`listeners`: the sockets to serve, a worker's from its parent; None: bind them now."""
        self.settings = settings
        # bound before anything else: a busy port fails at once (ListenError, an OSError)
        self.listeners = listeners_for(settings) if listeners is None else listeners
        self.ports = bound_ports(self.listeners)  # "" for the main site
        self.store = open_store(settings)
        self.traffic = new_traffic(settings)  # the journal and faults outlive reloads
        self.gate = Gate(connection_cap(settings))  # one count of connections over every version
        self.timeouts = Timeouts(settings.header_read_timeout, settings.body_read_timeout)
        self.handler_options = {"access_log": None, "keepalive_timeout": settings.keepalive_timeout, **parser_limits(settings)}
        self.version: Version | None = None
        self.retiring: set[asyncio.Task[None]] = set()
        self.stopping = asyncio.Event()

    def _apps(self) -> tuple[list[tuple[str, web.Application]], list[MountedApi]]:
        settings = self.settings
        apis, report = load_or_fail(settings, self.store)
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        apps = [("", create_app(settings, apis, self.store, self.traffic))]
        for name in settings.api_ports:
            own, _ = load_or_fail(settings, self.store, unprefixed=name)
            apps.append((name, create_app(settings, own, self.store, self.traffic)))
        return apps, apis

    async def start(self) -> Version:
        apps, apis = self._apps()
        version = Version(apis=apis)
        try:
            for key, app in apps:
                runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=DRAIN_SECONDS, **self.handler_options)
                await runner.setup()
                version.runners.append(runner)
                for sock in self.listeners[key]:
                    await ListeningSite(runner, sock, self._protocol(runner)).start()
        except BaseException:
            await self._drain(version.runners)
            raise
        return version

    def _protocol(self, runner: web.AppRunner) -> Callable[[], Connection]:
        """The protocol factory of a runner's sites: aiohttp's handler of its server, with the
        read deadlines and the connection cap."""
        server, loop = runner.server, asyncio.get_running_loop()
        assert server is not None  # set up
        gate, timeouts, options = self.gate, self.timeouts, self.handler_options
        return lambda: Connection(server, loop=loop, gate=gate, timeouts=timeouts, **options)

    async def reload(self) -> bool:
        """Start the new version, then retire the old one; keep the old one if the new one fails."""
        try:
            fresh = await self.start()
        except Exception as exc:  # a broken spec, fixture or setting: whatever it is, the old version stays
            print(f"mockserver: reload failed, still serving the previous version:\n  {exc}", file=sys.stderr, flush=True)
            return False
        old, self.version = self.version, fresh
        if old is not None:
            task = asyncio.create_task(self._retire(old))
            self.retiring.add(task)
            task.add_done_callback(self.retiring.discard)
        print("mockserver: reloaded specs and fixtures", file=sys.stderr, flush=True)
        return True

    async def _retire(self, version: Version) -> None:
        """Stop a replaced version taking connections, then requests; clean it up once its
        connections are closed, or only idle ones are left after RETIRE_SECONDS, or the server
        stops. A request in flight finishes however long it takes (a latency fault included)."""
        for runner in version.runners:
            for site in runner.sites:
                await site.stop()
            retire(runner)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETIRE_SECONDS
        while not self.stopping.is_set() and lingering(version.runners, idle_too=loop.time() < deadline):
            await asyncio.sleep(RETIRE_POLL_SECONDS)
        await self._drain(version.runners)
        version.runners.clear()
        version.apis.clear()
        # a version is a large graph with cycles (plans <-> runtime): collected now, its memory is
        # reused by the next reload, rather than versions piling up until a full collection runs
        gc.collect()

    def watched(self) -> list[Path]:
        paths = list(self.settings.specs or [bundled_dir("specs")])
        paths += self.settings.fixtures or ([bundled_dir("fixtures")] if bundled_dir("fixtures").is_dir() else [])
        return [path for path in paths if path.exists()]

    async def run(self, announce: Announce) -> None:
        self.version = await self.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watcher = asyncio.create_task(self._watch(stop)) if self.settings.watch else None
        await asyncio.sleep(0)  # the watcher's first step sets up its watches: a change after the banner is seen
        host = self.listeners[""][0].getsockname()[0]
        announce(host, self.version.apis, {name: str(port) for name, port in self.ports.items() if name})
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
        self.stopping.set()  # versions being retired stop waiting and drain with this one
        drain = asyncio.create_task(self._stop(self.version))
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal stops without waiting
            loop.add_signal_handler(sig, drain.cancel)
        try:
            await drain
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # run() itself is cancelled, not just the drain
                raise
            print("mockserver: stopped without waiting for the requests in flight", file=sys.stderr, flush=True)
        self.store.close()

    async def _stop(self, version: Version) -> None:
        """Every port stops accepting at once (the bound sockets close here, the sites serving
        them in the same turn of the loop), then the requests in flight in every version finish together."""
        close_all(self.listeners)
        await asyncio.gather(self._drain(version.runners), *self.retiring)

    @staticmethod
    async def _drain(runners: list[web.AppRunner]) -> None:
        """Every runner stops accepting at once (each cleanup closes its sites before its first
        await), then the requests in flight on all of them finish together."""
        await asyncio.gather(*(runner.cleanup() for runner in runners))

    async def _watch(self, stop: asyncio.Event) -> None:
        from watchfiles import awatch  # only with --watch

        async for _ in awatch(*self.watched(), stop_event=stop, debounce=300):
            await self.reload()
