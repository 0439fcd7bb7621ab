"""Serving: the main site, each API's own port, and live reload of specs and fixtures.

Every site binds with SO_REUSEPORT when reloading is on, so a reload starts the new
version on the same ports before the old one stops: no request is refused in between.
A version that fails to load is reported and the previous one keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from .app import create_app, load_or_fail, new_traffic, open_store
from .catalog import bundled_dir
from .limits import parser_limits
from .mounted import MountedApi
from .settings import Settings

log = logging.getLogger("mockserver")
Announce = Callable[[str, list[MountedApi], dict[str, str]], None]
# How long requests in flight at SIGTERM may take: aiohttp waits this long for a handler, then as
# long again once it cancels it, so a stop takes at most twice this, within `docker stop`'s 10 s.
DRAIN_SECONDS = 4.0


@dataclass
class Version:
    """One loaded version of the specs and fixtures: its runners, one per port."""

    runners: list[web.AppRunner] = field(default_factory=list)
    apis: list[MountedApi] = field(default_factory=list)


class Server:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(settings)
        self.traffic = new_traffic(settings)  # the journal and faults outlive reloads
        self.ports: dict[str, int] = {}  # "" for the main site, else the API name -> bound port
        self.version: Version | None = None

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
        for key, app in apps:
            runner = web.AppRunner(
                app, access_log=None, handle_signals=False, shutdown_timeout=DRAIN_SECONDS, **parser_limits(self.settings)
            )
            await runner.setup()
            port = self.ports.get(key, self.settings.port if key == "" else self.settings.api_ports[key])
            site = web.TCPSite(runner, self.settings.host, port, reuse_port=self.settings.watch or self.settings.workers > 1 or None)
            await site.start()
            self.ports[key] = runner.addresses[0][1]
            version.runners.append(runner)
        return version

    async def reload(self) -> bool:
        """Start the new version, then retire the old one; keep the old one if the new one fails."""
        try:
            fresh = await self.start()
        except Exception as exc:  # a broken spec, fixture or setting: whatever it is, the old version stays
            print(f"mockserver: reload failed, still serving the previous version:\n  {exc}", file=sys.stderr, flush=True)
            return False
        old, self.version = self.version, fresh
        if old is not None:
            for runner in old.runners:
                await runner.cleanup()
        print("mockserver: reloaded specs and fixtures", file=sys.stderr, flush=True)
        return True

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
        host = self.version.runners[0].addresses[0][0]
        announce(host, self.version.apis, {name: str(port) for name, port in self.ports.items() if name})
        watcher = asyncio.create_task(self._watch(stop)) if self.settings.watch else None
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
        drain = asyncio.create_task(self._drain(self.version.runners))
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

    @staticmethod
    async def _drain(runners: list[web.AppRunner]) -> None:
        """Every port stops accepting at once (each cleanup closes its sites before its first
        await), then the requests in flight on all of them finish together."""
        await asyncio.gather(*(runner.cleanup() for runner in runners))

    async def _watch(self, stop: asyncio.Event) -> None:
        from watchfiles import awatch  # only with --watch

        async for _ in awatch(*self.watched(), stop_event=stop, debounce=300):
            await self.reload()
