"""One dataclass of settings, filled from defaults, a YAML file, the environment and CLI flags.

Precedence, highest first: command-line flags > environment variables > config file > defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "MOCKSERVER_"
DEFAULT_CLOCK = "2026-01-15T15:00:00Z"


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    specs: list[Path] = field(default_factory=list)  # empty: the bundled specs/
    fixtures: list[Path] = field(default_factory=list)  # empty: the bundled fixtures/
    seed: int = 0
    # "now" follows the wall clock; an ISO instant freezes the sandbox world at that time
    clock: str = DEFAULT_CLOCK
    # request limits (mockserver/limits.py): beyond them, 413, 414 or 431 in the API's own envelope
    max_body_bytes: int = 1_048_576
    max_url_bytes: int = 8_192  # the request target: path and query string
    max_header_bytes: int = 16_384  # one header line (name, ": ", value); all of them together: 4 times this
    max_headers: int = 100  # header fields in one request
    # sandbox state per user (bitcain): creations beyond them are refused
    max_portfolios_per_user: int = 500
    max_ledger_entries_per_user: int = 20_000
    # all the sandbox state together (every user's, every API's): writes beyond it are refused (507)
    max_state_bytes: int = 64 * 1_048_576
    # slow clients: a request's headers must arrive within header_read_timeout seconds of its first
    # byte, its body within body_read_timeout; beyond max_connections open at once, new ones are closed
    header_read_timeout: float = 10.0
    body_read_timeout: float = 30.0
    # an idle kept-alive connection is closed after this long (nginx's default; aiohttp's own is an
    # hour), so idle clients cannot hold the connection cap's slots
    keepalive_timeout: float = 75.0
    max_connections: int = 0  # 0: below the process's descriptor limit (limits.connection_cap)
    # how far a signed request's timestamp may be from the server clock, either way
    signature_window_seconds: int = 30
    # api name -> list of identities (scheme name -> accepted value, optional `forbidden`)
    credentials: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # api name -> a vendor's own settings (declared by the vendor, vendors/__init__.py): name -> value
    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    # SQLite file of the sandbox state (what users create); None keeps it in memory
    state: Path | None = None
    journal_size: int = 1000  # requests kept by the journal; 0 turns it off
    journal_bytes: int = 16 * 1_048_576  # and what they hold together (journal.entry_weight)
    # sessions (sessions.py): how many may live at once, how long one lives unused, and each one's journal
    max_sessions: int = 1000
    session_idle_seconds: float = 3600.0
    session_journal_size: int = 200
    session_journal_bytes: int = 262_144
    control_token: str | None = None  # when set, /__mock demands `Authorization: Bearer <token>`
    # Host names (besides loopback names and addresses) under which /__mock and the dashboard answer
    allowed_hosts: list[str] = field(default_factory=list)
    quiet: bool = False  # no access log line per request
    log_format: str = "text"  # or "json"
    api_ports: dict[str, int] = field(default_factory=dict)  # API name -> its own port, production paths
    watch: bool = False  # reload specs and fixtures when they change
    workers: int = 1  # server processes sharing the parent's listening sockets and the state store
    config: Path | None = None
    scenario: Path | None = None  # a scenario document (scenarios.py) installed in the default session at start-up

    def frozen_clock(self) -> datetime | None:
        """The fixed sandbox instant, or None when the clock follows real time."""
        if self.clock == "now":
            return None
        return parse_instant(self.clock)


def parse_instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SettingsError(f"clock: {text!r} is neither 'now' nor an ISO 8601 instant") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_SCALARS = {
    "host": str,
    "port": int,
    "seed": int,
    "clock": str,
    "max_body_bytes": int,
    "max_url_bytes": int,
    "max_header_bytes": int,
    "max_headers": int,
    "max_portfolios_per_user": int,
    "max_ledger_entries_per_user": int,
    "max_state_bytes": int,
    "header_read_timeout": float,
    "body_read_timeout": float,
    "keepalive_timeout": float,
    "max_connections": int,
    "signature_window_seconds": int,
    "journal_size": int,
    "journal_bytes": int,
    "max_sessions": int,
    "session_idle_seconds": float,
    "session_journal_size": int,
    "session_journal_bytes": int,
    "workers": int,
    "log_format": str,
}
_PATH_LISTS = ("specs", "fixtures")


def _coerce(name: str, value: Any, source: str) -> Any:
    if name in _SCALARS:
        try:
            return _SCALARS[name](value)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{source}: {name} must be {_SCALARS[name].__name__}, got {value!r}") from exc
    if name == "control_token":
        return str(value) or None
    if name == "allowed_hosts":
        items = value if isinstance(value, list) else str(value).split(",")
        return [str(item).strip().lower() for item in items if str(item).strip()]
    if name == "api_ports":
        return _api_ports(value, source)
    if name in ("quiet", "watch"):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if name in ("state", "scenario"):
        return Path(value).expanduser() if value else None
    if name in _PATH_LISTS:
        items = value if isinstance(value, list) else str(value).split(os.pathsep)
        return [Path(item).expanduser() for item in items if str(item)]
    if name == "credentials":
        if not isinstance(value, Mapping) or not all(
            isinstance(v, list) and all(isinstance(i, Mapping) for i in v) for v in value.values()
        ):
            raise SettingsError(f"{source}: credentials must map an API name to a list of identities (mappings)")
        return {str(api): [dict(identity) for identity in identities] for api, identities in value.items()}
    if name == "vendors":
        return _vendor_settings(value, source)
    raise SettingsError(f"{source}: unknown setting {name!r}")


def _api_ports(value: Any, source: str) -> dict[str, int]:
    """A mapping, or `name=port` items (the repeatable --api-port flag, or a comma list in the environment)."""
    if isinstance(value, str):
        value = [item for item in value.split(",") if item.strip()]
    if isinstance(value, list):
        pairs = [str(item).partition("=") for item in value]
        if any(not sep for _, sep, _ in pairs):
            raise SettingsError(f"{source}: api ports are given as name=port")
        value = {name.strip(): port.strip() for name, _, port in pairs}
    if not isinstance(value, Mapping):
        raise SettingsError(f"{source}: api_ports must map an API name to a port")
    try:
        ports = {str(name): int(port) for name, port in value.items()}
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: api ports must be integers") from exc
    if any(not 0 <= port <= 65535 for port in ports.values()):
        raise SettingsError(f"{source}: api ports must be within 0..65535")
    return ports


def _vendor_settings(value: Any, source: str) -> dict[str, dict[str, Any]]:
    """A mapping of API name -> setting -> value, or `api.setting=value` items (the repeatable
    --vendor-setting flag); a value given as text is read as a YAML scalar (`3`, `true`, `0.5`)."""
    if isinstance(value, list):
        nested: dict[str, dict[str, Any]] = {}
        for item in value:
            target, sep, text = str(item).partition("=")
            api, dot, name = target.strip().partition(".")
            if not (sep and dot and api and name):
                raise SettingsError(f"{source}: vendor settings are given as api.setting=value, got {item!r}")
            nested.setdefault(api, {})[name.strip()] = yaml.safe_load(text) if text.strip() else ""
        return nested
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise SettingsError(f"{source}: vendors must map an API name to a mapping of its settings")
    return {str(api): {str(k): v for k, v in values.items()} for api, values in value.items()}


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SettingsError(f"config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path}: expected a mapping of settings")
    base = path.parent
    values = {key.replace("-", "_"): _coerce(key.replace("-", "_"), value, str(path)) for key, value in data.items()}
    for name in _PATH_LISTS:  # paths in a config file are relative to the file
        if name in values:
            values[name] = [p if p.is_absolute() else base / p for p in values[name]]
    for name in ("state", "scenario"):
        if values.get(name) is not None and not values[name].is_absolute():
            values[name] = base / values[name]
    return values


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for setting in fields(Settings):
        raw = environ.get(ENV_PREFIX + setting.name.upper())
        if raw is None or setting.name == "config":
            continue
        source = ENV_PREFIX + setting.name.upper()
        if setting.name in ("credentials", "vendors"):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise SettingsError(f"{source} must be JSON") from exc
        values[setting.name] = _coerce(setting.name, raw, source)
    return values


def load_settings(cli: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Merge defaults < config file < environment < CLI flags (flags left as None do not count)."""
    cli = {key: value for key, value in (cli or {}).items() if value not in (None, [])}
    environ = os.environ if environ is None else environ
    config_path = cli.get("config") or environ.get(ENV_PREFIX + "CONFIG")
    merged: dict[str, Any] = {}
    if config_path:
        merged.update(_from_file(Path(config_path)))
        merged["config"] = Path(config_path)
    merged.update(_from_env(environ))
    merged.update({key: _coerce(key, value, "command line") for key, value in cli.items() if key != "config"})
    settings = Settings(**merged)
    settings.frozen_clock()  # fail early on a bad clock value
    if settings.log_format not in ("text", "json"):
        raise SettingsError(f"log_format must be text or json, got {settings.log_format!r}")
    if settings.journal_size < 0:
        raise SettingsError("journal_size must be 0 or more")
    if not 1 <= settings.workers <= 64:
        raise SettingsError(f"workers must be within 1..64, got {settings.workers}")
    if not 0 <= settings.port <= 65535:
        raise SettingsError(f"port must be within 0..65535 (0 picks a free one), got {settings.port}")
    _check_limits(settings)
    return settings


# the range of each limit: below it ordinary clients fail, above it the HTTP parser's ceiling
# (twice the setting, see limits.py) would let a single request hold too much memory
_LIMIT_RANGES = {
    "max_body_bytes": (1, 1 << 30),
    "max_url_bytes": (256, 1 << 20),
    "max_header_bytes": (256, 1 << 20),
    "max_headers": (8, 10_000),
    "max_portfolios_per_user": (0, 1_000_000),
    "max_ledger_entries_per_user": (0, 10_000_000),
    "max_state_bytes": (1_048_576, 1 << 40),
    "journal_bytes": (262_144, 1 << 30),
    "max_sessions": (0, 100_000),
    "session_idle_seconds": (1, 30 * 86_400),
    "session_journal_size": (0, 100_000),
    "session_journal_bytes": (16_384, 64 << 20),
    "header_read_timeout": (0.1, 3600),
    "body_read_timeout": (0.1, 3600),
    "keepalive_timeout": (0.1, 3600),
    "max_connections": (0, 1_000_000),
}


def _check_limits(settings: Settings) -> None:
    for name, (low, high) in _LIMIT_RANGES.items():
        value = getattr(settings, name)
        if not low <= value <= high:
            raise SettingsError(f"{name} must be within {low}..{high}, got {value}")
