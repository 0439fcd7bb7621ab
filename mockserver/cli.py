"""`mockserver serve | check | routes`."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .app import load
from .catalog import GRAPHQL_SUFFIXES, OPENAPI_SUFFIXES
from .connections import Listeners
from .errors import LoadError
from .interfaces import reachable_urls
from .logs import configure_logging
from .mounted import MountedApi
from .sandbox.store import StateFull
from .server import Server
from .settings import Settings, SettingsError, load_settings
from .traffic import CONTROL_PREFIX
from .workers import serve_workers


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--specs", action="append", type=Path, metavar="DIR", help="folder of API descriptions (repeatable; default: the bundled specs)"
    )
    parser.add_argument(
        "--fixtures",
        action="append",
        type=Path,
        metavar="DIR",
        help="folder of fixtures/<api>/*.yaml (repeatable; default: the bundled fixtures)",
    )
    parser.add_argument("--seed", type=int, help="seed of the sandbox world (default 0)")
    parser.add_argument(
        "--vendor-setting",
        dest="vendors",
        action="append",
        metavar="API.NAME=VALUE",
        help="one of a vendor's own settings, e.g. bitcain.max_portfolios_per_user=3 (repeatable)",
    )
    parser.add_argument("--clock", help="'now', or an ISO instant the sandbox world is frozen at (default 2026-01-15T15:00:00Z)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="YAML settings file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mockserver", description="Local sandbox for documented portfolio APIs.")
    parser.add_argument("--version", action="version", version=f"mockserver {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the server")
    _common(serve)
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8080; 0 picks a free one)")
    serve.add_argument("--max-body-bytes", type=int, help="largest request body accepted (default 1 MiB); beyond it, 413")
    serve.add_argument("--max-url-bytes", type=int, help="longest request target, path and query (default 8 KiB); beyond it, 414")
    serve.add_argument(
        "--max-header-bytes", type=int, help="longest header line (default 16 KiB; all headers: 4 times this); beyond it, 431"
    )
    serve.add_argument("--max-headers", type=int, help="most header fields in one request (default 100); beyond it, 431")
    serve.add_argument("--max-portfolios-per-user", type=int, help="portfolios one bitcain user may hold (default 500)")
    serve.add_argument("--max-ledger-entries-per-user", type=int, help="transactions one bitcain ledger may hold (default 20000)")
    serve.add_argument("--max-state-bytes", type=int, help="all the sandbox state together (default 64 MiB); beyond it, writes get 507")
    serve.add_argument(
        "--header-timeout", dest="header_read_timeout", type=float, help="seconds a request's headers may take to arrive (default 10)"
    )
    serve.add_argument(
        "--body-timeout", dest="body_read_timeout", type=float, help="seconds a request's body may take to arrive (default 30)"
    )
    serve.add_argument("--keepalive-timeout", type=float, help="seconds an idle kept-alive connection stays open (default 75)")
    serve.add_argument("--max-connections", type=int, help="connections open at once (default 0: below the descriptor limit)")
    serve.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        metavar="HOST",
        help="a Host name, besides loopback ones, under which /__mock and the dashboard answer (repeatable)",
    )
    serve.add_argument(
        "--signature-window", dest="signature_window_seconds", type=int, help="seconds a signed request's timestamp may be off (default 30)"
    )
    serve.add_argument("--state", type=Path, metavar="FILE", help="keep the sandbox state in this SQLite file (default: in memory)")
    serve.add_argument(
        "--scenario", type=Path, metavar="FILE", help="a scenario (YAML or JSON, as GET /__mock/scenarios exports it) to start with"
    )
    serve.add_argument("--journal-size", type=int, help="requests the journal keeps (default 1000; 0 turns it off)")
    serve.add_argument("--journal-bytes", type=int, help="bytes the journal's requests may hold together (default 16 MiB)")
    serve.add_argument("--max-sessions", type=int, help="sessions that may live at once (default 1000; 0: none)")
    serve.add_argument("--session-idle-seconds", type=float, help="a session unused this long is deleted (default 3600)")
    serve.add_argument("--control-token", help="demand Authorization: Bearer <token> on /__mock")
    serve.add_argument("--quiet", action="store_true", default=None, help="no access log line per request")
    serve.add_argument("--log-format", choices=("text", "json"), help="access log as text (default) or JSON lines")
    serve.add_argument(
        "--api-port",
        dest="api_ports",
        action="append",
        metavar="NAME=PORT",
        help="also serve one API at its production paths on its own port (repeatable)",
    )
    serve.add_argument("--watch", action="store_true", default=None, help="reload specs and fixtures when they change")
    serve.add_argument("--workers", type=int, help="server processes on the one port, sharing the state (default 1)")
    _common(commands.add_parser("check", help="load every spec and fixture and report problems"))
    _common(commands.add_parser("routes", help="list every mounted route"))
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    names = (
        "host",
        "port",
        "specs",
        "fixtures",
        "seed",
        "clock",
        "config",
        "max_body_bytes",
        "max_url_bytes",
        "max_header_bytes",
        "max_headers",
        "max_portfolios_per_user",
        "max_ledger_entries_per_user",
        "vendors",
        "max_state_bytes",
        "header_read_timeout",
        "body_read_timeout",
        "max_connections",
        "keepalive_timeout",
        "allowed_hosts",
        "signature_window_seconds",
        "state",
        "scenario",
        "journal_size",
        "journal_bytes",
        "max_sessions",
        "session_idle_seconds",
        "control_token",
        "quiet",
        "log_format",
        "api_ports",
        "watch",
        "workers",
    )
    return load_settings({name: getattr(args, name, None) for name in names})


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; what stops it from starting is one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        return {"serve": serve, "check": check, "routes": routes}[args.command](settings)
    except (SettingsError, LoadError, StateFull) as exc:
        return refuse(str(exc))


def refuse(why: str) -> int:
    print(f"mockserver: {why}", file=sys.stderr, flush=True)
    return 2


def check(settings: Settings) -> int:
    runtimes, report = load(settings, remembered=False)
    for runtime in runtimes:
        print(f"ok    {runtime.name}: {runtime.summary()} ({runtime.source})")
    for warning in report.warnings:
        print(f"WARN  {warning}")
    for error in report.errors:
        print(f"ERROR {error}")
    problems = len(report.errors) + len(report.warnings)
    print(f"{len(runtimes)} APIs checked, {problems} problem{'s' if problems != 1 else ''}")
    return 1 if problems else 0


def routes(settings: Settings) -> int:
    runtimes, _ = load(settings)
    for runtime in runtimes:
        for route in runtime.routes():
            print(f"{route.method:7} {route.path}  ({runtime.name}: {route.operation})")
    return 0


def serve(settings: Settings) -> int:
    addresses = host_addresses(settings.host)
    _require_specs(settings.specs)
    configure_logging(settings)
    if not settings.control_token and not all(address.is_loopback for address in addresses):
        print(exposed_warning(settings.host), file=sys.stderr, flush=True)
    try:
        if settings.workers > 1:
            return serve_workers(settings, run_server)
        return run_server(settings, lambda text: print(text, flush=True))
    except OSError as exc:  # a port in use, an address this machine does not have
        return refuse(exc.strerror or str(exc))


def host_addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses `host` stands for ("" is every interface); SettingsError when it is neither
    an IP address nor a name that resolves."""
    if not host:
        return [ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::")]
    numeric = host.rpartition(".")[2].isdigit()  # no name ends in a number: an address, never worth a DNS query
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST if numeric else 0)
    except (OSError, UnicodeError) as exc:
        if numeric:
            raise SettingsError(f"host: {host!r} is not a valid IP address") from exc
        why = getattr(exc, "strerror", None) or exc
        raise SettingsError(f"host: {host!r} is neither an IP address nor a name that resolves ({why})") from exc
    return [ipaddress.ip_address(str(address[0]).partition("%")[0]) for *_, address in found]


def exposed_warning(host: str) -> str:
    return (
        f"mockserver: warning: listening on {host or 'every interface'} without a control token: anyone who can"
        " reach it can read the request journal, inject faults and reset the state under /__mock. Set"
        " --control-token (or MOCKSERVER_CONTROL_TOKEN), name the Host clients use with --allowed-host,"
        " or listen on 127.0.0.1 only."
    )


def _require_specs(folders: list[Path]) -> None:
    """Given specs folders with no API description at all would start a server that serves nothing."""
    if not folders or not all(folder.is_dir() for folder in folders):
        return  # the bundled specs; or a missing folder, which loading reports itself
    suffixes = OPENAPI_SUFFIXES + GRAPHQL_SUFFIXES
    if not any(path.suffix in suffixes for folder in folders for path in folder.iterdir()):
        listed = ", ".join(str(folder) for folder in folders)
        raise LoadError(listed, f"no API description in it (files ending in {', '.join(suffixes)}); nothing to serve")


def run_server(settings: Settings, ready: Callable[[str], None], listeners: Listeners | None = None) -> int:
    """Serve until SIGINT/SIGTERM on `listeners` (a worker's, from its parent; None: bound now);
    `ready` gets the banner once every site listens."""
    server = Server(settings, listeners)

    def announce(host: str, apis: list[MountedApi], own_ports: dict[str, str]) -> None:
        base = f"http://{_url_host(settings.host, host)}"
        own = {name: f"{base}:{port}" for name, port in own_ports.items()}
        reachable = reachable_urls(settings.host, server.ports[""])
        ready(
            banner(
                f"{base}:{server.ports['']}",
                apis,
                own,
                reachable=reachable,
                token=bool(settings.control_token),
                hosts_allowed=bool(settings.allowed_hosts),
            )
        )

    with asyncio.Runner(loop_factory=_uvloop_factory()) as runner:
        runner.run(server.run(announce))
    return 0


def _uvloop_factory() -> Any:
    try:
        import uvloop
    except ImportError:  # not available on this platform: the standard loop works too
        return None
    return uvloop.new_event_loop


def _url_host(configured: str, bound: str) -> str:
    if configured in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{bound}]" if ":" in bound else bound


def banner(
    base: str,
    runtimes: list[MountedApi],
    own_ports: dict[str, str] | None = None,
    *,
    reachable: Sequence[str] = (),
    token: bool = False,
    hosts_allowed: bool = False,
) -> str:
    """What the server prints once it listens: each API with its credentials, the dashboard and the
    control API, the other addresses it answers on (`reachable`), and last the health URL. The
    control token itself is never printed. The control API answers other Hosts than loopback ones
    only once `--allowed-host` names them (`hosts_allowed`): the banner says so."""
    lines = [f"mockserver {__version__} listening on {base}"]
    for runtime in runtimes:
        lines.append(f"  {runtime.name:10} {base}{runtime.mount}")
        if own_ports and runtime.name in own_ports:
            lines.append(f"  {'':10}   also at {own_ports[runtime.name]} (its own port, production paths)")
        for hint in runtime.credential_hints():
            lines.append(f"  {'':10}   {hint}")
    lines.append(f"  dashboard  {base}{CONTROL_PREFIX}/" + ("  (add ?token=<control token>)" if token else ""))
    lines.append(f"  control    {base}{CONTROL_PREFIX}  (apis, requests, faults, reset, sessions, scenarios, clock)")
    if reachable:
        scope = "" if hosts_allowed else "  (the APIs; /__mock there once --allowed-host names the address)"
        lines.append(f"  reachable  {', '.join(reachable)}{scope}")
    lines.append(f"  health     {base}{CONTROL_PREFIX}/health")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
