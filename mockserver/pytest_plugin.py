"""pytest plugin: a `mockserver` fixture for your own test suites.

Installed with the package and registered through the `pytest11` entry point, so every
pytest session of a project that installs mockserver loads this module. It therefore
imports only the standard library and pytest at import time; the server itself (aiohttp,
the specs) is loaded the first time a test asks for the fixture.

    def test_portfolio(mockserver):
        auth = mockserver.credentials("mesh")
        response = requests.get(mockserver.url("mesh") + "/api/v1/holdings/portfolio",
                                params={"UserId": "alice"}, headers=auth["headers"])
        assert response.status_code == 200
        assert mockserver.count(api="mesh", status=200) == 1

The server runs in-process, in a background thread with its own event loop, on a free
port of 127.0.0.1 (sync and async tests can use it alike). Every call of the client goes
through the control API (`/__mock`) over HTTP, so it behaves the same against an already
running server (`--mockserver-url URL` or `MOCKSERVER_URL`), where nothing is started.

Isolation (`--mockserver-isolation` or the ini option `mockserver_isolation`):
- `session` (default): every test gets a sandbox session of its own on the shared server
  (`POST /__mock/sessions`, deleted after the test): its own state, journal, faults, scenarios
  and clock, so tests running at once (`pytest -n 4`, one server per worker or one shared
  `--mockserver-url`) never see each other's. `url()`, `credentials()` and every control call
  point into it.
- `reset`: tests share the default session, reset before each test (state, journal, faults).

Server lifetime (`--mockserver-scope` or the ini option `mockserver_scope`): `session` (default,
one server per test run, or per xdist worker), `module`, or `function` (a fresh server per test).
A test with `@pytest.mark.mockserver(seed=7, ...)` settings always gets its own server.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import asyncio

# asyncio, urllib.request and the server are imported when first used: this module is
# loaded into every pytest session of every project that installs mockserver

SCOPES = ("function", "module", "session")
ISOLATIONS = ("session", "reset")
URL_ENV = "MOCKSERVER_URL"
TOKEN_ENV = "MOCKSERVER_CONTROL_TOKEN"
CONTROL = "/__mock"
CONFIGURED = "<configured>"  # how the control API shows credentials that came from settings
HTTP_TIMEOUT = 30.0
START_TIMEOUT = 60.0
# settings the in-process server takes from options and ini (name -> (option, ini, kind))
_OPTIONS: dict[str, tuple[str, str, str]] = {
    "seed": ("--mockserver-seed", "mockserver_seed", "int"),
    "clock": ("--mockserver-clock", "mockserver_clock", "str"),
    "specs": ("--mockserver-specs", "mockserver_specs", "paths"),
    "fixtures": ("--mockserver-fixtures", "mockserver_fixtures", "paths"),
    "config": ("--mockserver-config", "mockserver_config", "str"),
}
# settings a marker may not give: the plugin owns where the server listens
_NOT_IN_MARKER = frozenset({"host", "port"})


class MockServerError(Exception):
    """A control API call failed, or the server could not be reached or started."""


# --------------------------------------------------------------------------- pytest hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockserver", "mockserver fixture (an in-process sandbox of the portfolio APIs)")
    group.addoption(
        "--mockserver-scope",
        choices=SCOPES,
        default=None,
        help="how long one in-process mockserver lives: session (default: one per test run or xdist worker), "
        "module, or function (a fresh server per test)",
    )
    group.addoption(
        "--mockserver-isolation",
        choices=ISOLATIONS,
        default=None,
        help="session (default: a sandbox session of its own per test) or reset (the default session, reset before every test)",
    )
    group.addoption(
        "--mockserver-url",
        default=None,
        metavar="URL",
        help=f"use the mockserver already running at URL (also ${URL_ENV}); no server is started",
    )
    group.addoption(
        "--mockserver-control-token",
        default=None,
        metavar="TOKEN",
        help=f"control token sent as 'Authorization: Bearer TOKEN' to /__mock (also ${TOKEN_ENV}); an in-process server is started with it",
    )
    group.addoption("--mockserver-seed", type=int, default=None, metavar="N", help="seed of the in-process server's sandbox world")
    group.addoption("--mockserver-clock", default=None, metavar="ISO", help="'now' or the ISO instant the sandbox world is frozen at")
    group.addoption(
        "--mockserver-specs", action="append", default=None, metavar="DIR", help="folder of API descriptions (repeatable; default: bundled)"
    )
    group.addoption(
        "--mockserver-fixtures", action="append", default=None, metavar="DIR", help="folder of fixtures/<api>/*.yaml (repeatable)"
    )
    group.addoption("--mockserver-config", default=None, metavar="FILE", help="mockserver YAML settings file for the in-process server")
    parser.addini("mockserver_scope", "in-process mockserver lifetime: session (default), module or function", default="session")
    parser.addini("mockserver_isolation", "per test: session (default: a sandbox session each) or reset", default="session")
    parser.addini("mockserver_seed", "seed of the in-process mockserver", default="")
    parser.addini("mockserver_clock", "sandbox clock of the in-process mockserver ('now' or ISO instant)", default="")
    parser.addini("mockserver_specs", "folders of API descriptions (relative to the ini file)", type="paths", default=[])
    parser.addini("mockserver_fixtures", "folders of fixtures (relative to the ini file)", type="paths", default=[])
    parser.addini("mockserver_config", "mockserver YAML settings file (relative to the rootdir)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockserver(**settings): run this test against its own in-process mockserver with these settings "
        "(seed, clock, specs, fixtures, credentials, config, ... as in mockserver's settings file)",
    )
    scope = _scope_name(config)
    if scope not in SCOPES:
        raise pytest.UsageError(f"mockserver_scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    isolation = _isolation(config)
    if isolation not in ISOLATIONS:
        raise pytest.UsageError(f"mockserver_isolation must be one of {', '.join(ISOLATIONS)}, got {isolation!r}")


def _scope_name(config: pytest.Config) -> str:
    return config.getoption("--mockserver-scope") or str(config.getini("mockserver_scope") or "session").strip()


def _isolation(config: pytest.Config) -> str:
    return config.getoption("--mockserver-isolation") or str(config.getini("mockserver_isolation") or "session").strip()


def _server_scope(fixture_name: str, config: pytest.Config) -> str:
    """Dynamic scope of the shared server fixture (pytest asks once per session)."""
    return _scope_name(config)


def _remote_url(config: pytest.Config) -> str | None:
    url = config.getoption("--mockserver-url") or os.environ.get(URL_ENV) or None
    return url.rstrip("/") if url else None


def _control_token(config: pytest.Config) -> str | None:
    return config.getoption("--mockserver-control-token") or os.environ.get(TOKEN_ENV) or None


def _base_settings(config: pytest.Config) -> dict[str, Any]:
    """Settings of in-process servers: ini < command line (the marker adds on top)."""
    values: dict[str, Any] = {}
    for name, (option, ini, kind) in _OPTIONS.items():
        from_ini = config.getini(ini)
        if kind == "paths":
            if from_ini:
                values[name] = [str(path) for path in from_ini]
        elif str(from_ini).strip():
            value = str(from_ini).strip()
            values[name] = str(config.rootpath / value) if name == "config" else value
        given = config.getoption(option)
        if given not in (None, []):
            values[name] = [str(item) for item in given] if kind == "paths" else given
    token = _control_token(config)
    if token:
        values["control_token"] = token
    return values


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope=_server_scope)
def mockserver_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The shared server behind `mockserver`: in-process (its lifetime is `--mockserver-scope`)
    or the running one given by `--mockserver-url`."""
    config = request.config
    url = _remote_url(config)
    if url is not None:
        remote = RemoteServer(url, _control_token(config))
        try:
            remote.check()
        except MockServerError as exc:
            message = str(exc)
        else:
            yield remote
            return
        pytest.fail(message, pytrace=False)
    server: Server = _start_or_fail(_base_settings(config))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mockserver(request: pytest.FixtureRequest) -> Iterator[MockServerClient]:
    """A client of a mockserver: `url(api)`, `credentials(api)`, `journal()`, `count()`,
    `reset()`, `fault()`, `scenario()`, `fixture()`, `clock`, `mesh`. Each test starts from a
    clean sandbox: a session of its own (or the default one, reset)."""
    marker = request.node.get_closest_marker("mockserver")
    overrides = dict(marker.kwargs) if marker is not None else {}
    if overrides:
        given = _NOT_IN_MARKER.intersection(overrides)
        if given:
            pytest.fail(f"@pytest.mark.mockserver: {', '.join(sorted(given))} cannot be set; the plugin picks a free port", pytrace=False)
        url = _remote_url(request.config)
        if url is not None:
            pytest.skip(f"needs an in-process mockserver with {overrides}; mockserver is the running server at {url}")
        own = _start_or_fail({**_base_settings(request.config), **overrides})
        try:
            yield from _isolated(own, request.config)
        finally:
            own.stop()
        return
    yield from _isolated(request.getfixturevalue("mockserver_server"), request.config)


def _isolated(server: Server, config: pytest.Config) -> Iterator[MockServerClient]:
    """The test's client: in a new sandbox session, deleted after the test; or in the default
    session, reset first unless the server is the test's own."""
    client = server.client()
    if _isolation(config) == "reset":
        if not server.in_process or _scope_name(config) != "function":
            client.reset()  # a server other tests used: back to where it started
        yield client
        return
    session = client.new_session()
    try:
        yield session
    finally:
        session.delete_session()


def _start_or_fail(settings: Mapping[str, Any]) -> InProcessServer:
    from .errors import LoadError
    from .settings import SettingsError

    try:
        return start_server(**settings)
    except MockServerError as exc:
        if exc.__cause__ is not None and not isinstance(exc.__cause__, (LoadError, SettingsError)):
            raise  # a bug: its traceback helps
        message = str(exc)  # a problem with the specs or settings: the message says it all
    pytest.fail(message, pytrace=False)


# --------------------------------------------------------------------------- servers


class Server:
    """What the fixtures need of a server: its control client."""

    base_url: str
    control_token: str | None
    in_process: bool
    catalog: dict[str, Any]  # its `/__mock/apis`, read once and shared by its clients (every test's)

    def client(self) -> MockServerClient:
        return MockServerClient(self.base_url, self.control_token, in_process=self.in_process, catalog=self.catalog)

    def stop(self) -> None:
        pass


class RemoteServer(Server):
    """A server someone else runs (the Docker container in CI): only its control API is used."""

    in_process = False

    def __init__(self, base_url: str, control_token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.control_token = control_token
        self.catalog = {}

    def check(self) -> None:
        try:
            self.client().health()
        except MockServerError as exc:
            raise MockServerError(f"no usable mockserver at {self.base_url} (--mockserver-url / ${URL_ENV}): {exc}") from exc


class InProcessServer(Server):
    """The mockserver application served on 127.0.0.1:<free port> by a background thread
    running its own event loop; `stop()` shuts it down and joins the thread."""

    in_process = True

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.control_token = settings.control_token
        self.catalog = {}
        self.base_url = ""
        self.port = 0
        self.warnings: list[str] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="mockserver", daemon=True)

    def start(self) -> InProcessServer:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise MockServerError(f"the in-process mockserver did not start within {START_TIMEOUT:.0f} s")
        if self._error is not None:
            self._thread.join(5)
            raise MockServerError(f"the in-process mockserver could not start: {self._error}") from self._error
        for warning in self.warnings:  # issued here, in the test's thread, where pytest records them
            warnings.warn(f"mockserver: {warning}", MockServerWarning, stacklevel=2)
        return self

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and self._thread.is_alive():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop is already closed
                pass
        self._thread.join(30)

    def _run(self) -> None:
        import asyncio

        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()  # never leave start() waiting, whatever happened

    async def _serve(self) -> None:
        import asyncio

        from aiohttp import web

        from .app import create_app, load_or_fail, open_store
        from .limits import parser_limits

        store = open_store(self.settings)
        try:
            apis, report = load_or_fail(self.settings, store)
            app = create_app(self.settings, apis, store)  # closes the store on cleanup from here on
        except BaseException:
            store.close()
            raise
        self.warnings = list(report.warnings)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0, **parser_limits(self.settings))
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.host, 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.port = port
            self.base_url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()  # stops listening, lets requests in flight finish


class MockServerWarning(UserWarning):
    """A spec example that breaks its own schema, and the like: the server still starts."""


def start_server(**settings: Any) -> InProcessServer:
    """Start an in-process mockserver with these settings (names as in its settings file:
    seed, clock, specs, fixtures, credentials, config, ...); the environment is not read.
    Call `stop()` on the result. `server.client()` is the fixture's client."""
    from .settings import SettingsError, load_settings

    try:
        built = load_settings({**settings, "host": "127.0.0.1", "port": 0}, environ={})
    except SettingsError as exc:
        raise MockServerError(f"mockserver settings: {exc}") from exc
    return InProcessServer(built).start()


# --------------------------------------------------------------------------- the client


class MockServerClient:
    """The `mockserver` fixture: base URLs, credentials and the control API of one server.

    Every method is a blocking HTTP call to `/__mock` (urllib, no proxy), quick enough to
    use from async tests too. A failed call raises MockServerError with the server's reason.
    """

    def __init__(
        self,
        base_url: str,
        control_token: str | None = None,
        *,
        in_process: bool = False,
        session: str | None = None,
        catalog: dict[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.control_token = control_token
        self.in_process = in_process
        self.session = session  # the sandbox session it works in (None: the default one)
        self._catalog = catalog if catalog is not None else {}
        self._opener: Any = None
        self.clock = Clock(self)
        self.mesh = MeshScenarios(self)
        self.omniex = OmniexScenarios(self)
        self.treasure = TreasureScenarios(self)
        self.bitpanda = BitpandaScenarios(self)
        self.bitcain = BitcainScenarios(self)

    def __repr__(self) -> str:
        where = "in-process" if self.in_process else "remote"
        return f"<MockServerClient {self.base_url}{self._prefix} ({where})>"

    @property
    def _prefix(self) -> str:
        return f"/__session/{self.session}" if self.session else ""

    # -- sessions

    def new_session(self, session_id: str | None = None) -> MockServerClient:
        """`POST /__mock/sessions`: a client of a new sandbox session on the same server."""
        made = self._call("POST", "/sessions", {"id": session_id} if session_id else {}, scoped=False)
        return MockServerClient(self.base_url, self.control_token, in_process=self.in_process, session=made["id"], catalog=self._catalog)

    def delete_session(self) -> None:
        """`DELETE /__mock/sessions/<id>` of this client's session."""
        if self.session:
            self._call("DELETE", f"/sessions/{self.session}", scoped=False)

    # -- catalog

    def apis(self) -> list[dict[str, Any]]:
        """`GET /__mock/apis`: every mounted API (name, kind, baseUrl, auth, operations, ...)."""
        if "apis" not in self._catalog:
            self._catalog["apis"] = self._call("GET", "/apis", scoped=False)["apis"]
        return list(self._catalog["apis"])

    def api(self, name: str) -> dict[str, Any]:
        for api in self.apis():
            if api["name"] == name:
                return api
        raise MockServerError(f"no API named {name!r}; mounted: {', '.join(a['name'] for a in self.apis()) or 'none'}")

    def url(self, api: str) -> str:
        """The API's base URL in this client's session, e.g. `http://127.0.0.1:41234/__session/<id>/mesh`
        (`.../mesh` in the default session); append the operation's path."""
        from urllib.parse import urlsplit

        return f"{self.base_url}{self._prefix}{urlsplit(str(self.api(api)['baseUrl'])).path}"

    def credentials(self, api: str, identity: int | str = 0) -> dict[str, Any]:
        """An identity of the API (by position, or by name): {"identity", "forbidden",
        "headers", "query", "cookies", "values"}. Send `headers`, `query` and `cookies` as
        they are; `values` holds every raw value (for signatures, such as Omniex's secret)."""
        sets = self.api(api)["auth"]
        if isinstance(identity, int):
            if not -len(sets) <= identity < len(sets):
                raise MockServerError(f"{api} has {len(sets)} identities; there is no identity {identity}")
            chosen = sets[identity]
        else:
            found = [entry for entry in sets if entry["identity"] == identity]
            if not found:
                raise MockServerError(f"{api} has no identity {identity!r}; it has: {', '.join(e['identity'] for e in sets)}")
            chosen = found[0]
        if CONFIGURED in chosen["values"].values():
            raise MockServerError(
                f"the credentials of {api} come from settings and the control API does not reveal them; use the values you configured"
            )
        return json.loads(json.dumps(chosen))  # a copy the test may change

    # -- journal and verification

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        """`GET /__mock/requests`: journalled requests, newest first, matching every filter
        given (api, operation, method, path, status, since, limit); all of them without limit."""
        params = {key: _query_value(value) for key, value in filters.items() if value is not None}
        params.setdefault("limit", "1000000")
        return list(self._call("GET", "/requests?" + urlencode(params))["requests"])

    def clear_journal(self) -> int:
        """`DELETE /__mock/requests`; returns how many entries were dropped."""
        return int(self._call("DELETE", "/requests")["cleared"])

    def count(self, **matcher: Any) -> int:
        """`POST /__mock/requests/count`: how many journalled requests match (api, operation,
        method, path (exact, or a regular expression starting with ^), status, since, and
        `query` / `headers` as name -> value)."""
        body = {key: (_query_value(value) if key == "since" else value) for key, value in matcher.items() if value is not None}
        return int(self._call("POST", "/requests/count", body)["count"])

    # -- state and faults

    def reset(self) -> list[str]:
        """`POST /__mock/reset`: state, journal and faults back to where they started (the session's)."""
        return list(self._call("POST", "/reset")["reset"])

    # -- scenarios

    def scenario(self, document: Mapping[str, Any]) -> list[str]:
        """`POST /__mock/scenarios`: the sandbox shaped at run time (an API's name or `fixtures` ->
        what to install); MockServerError lists every problem of a scenario that is refused."""
        return list(self._call("POST", "/scenarios", dict(document))["installed"])

    def export_scenario(self) -> dict[str, Any]:
        """`GET /__mock/scenarios`: what the session holds, as a scenario document."""
        return dict(self._call("GET", "/scenarios"))

    def fixture(self, api: str, operation: str, response: Mapping[str, Any] | None = None, **rest: Any) -> None:
        """One runtime fixture of the session: `match` ({"query"|"headers"|"path": {...}}), `response`
        ({"status", "body" or "example", "headers"}) or `responses` (successive answers), `priority`,
        `times`. Its answer is checked against the operation's spec."""
        fixture = {"api": api, "operation": operation, **({"response": dict(response)} if response is not None else {}), **rest}
        self.scenario({"fixtures": [fixture]})

    def fault(self, **spec: Any) -> dict[str, Any]:
        """`POST /__mock/faults`: api, operation, latencyMs (or latency_ms: ms or [min, max]),
        status, drop, count, rate, seed. Returns the fault as the server stored it."""
        if "latency_ms" in spec:
            spec["latencyMs"] = spec.pop("latency_ms")
        return dict(self._call("POST", "/faults", spec))

    def faults(self) -> list[dict[str, Any]]:
        """`GET /__mock/faults`: the active faults with how often each was applied."""
        return list(self._call("GET", "/faults")["faults"])

    def clear_faults(self) -> None:
        """`DELETE /__mock/faults`."""
        self._call("DELETE", "/faults")

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/health"))

    # -- HTTP

    def _call(self, method: str, path: str, body: Any = None, scoped: bool = True) -> Any:
        """A control call: in this client's session unless `scoped` is False (the server's own
        routes: its catalog, its sessions)."""
        import urllib.error
        import urllib.request

        if self._opener is None:  # no proxy: the mock server is local infrastructure
            self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        headers = {"Accept": "application/json"}
        if method != "GET":  # the control API takes writes in JSON only, with or without a body
            headers["Content-Type"] = "application/json"
        data = None if body is None else json.dumps(body).encode()
        if self.control_token:
            headers["Authorization"] = f"Bearer {self.control_token}"
        where = (self._prefix if scoped else "") + CONTROL + path
        request = urllib.request.Request(self.base_url + where, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=HTTP_TIMEOUT) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise MockServerError(f"{method} {where}: {exc.code} {_reason(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise MockServerError(f"{method} {self.base_url}{where}: {getattr(exc, 'reason', exc)}") from None
        except ValueError as exc:
            raise MockServerError(f"{method} {where}: the answer is not JSON ({exc})") from None


class Clock:
    """`mockserver.clock`: the sandbox clock of the client's session (`/__mock/clock`)."""

    def __init__(self, client: MockServerClient) -> None:
        self._client = client

    def now(self) -> datetime:
        return datetime.fromisoformat(self._client._call("GET", "/clock")["now"].replace("Z", "+00:00"))

    def set(self, instant: datetime | str, frozen: bool = True) -> dict[str, Any]:
        """Frozen at `instant` (or running from it, `frozen=False`)."""
        now = instant.isoformat() if isinstance(instant, datetime) else instant
        return dict(self._client._call("PUT", "/clock", {"now": now, "frozen": frozen}))

    def advance(self, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> dict[str, Any]:
        return dict(self._client._call("POST", "/clock/advance", {"days": days, "hours": hours, "minutes": minutes, "seconds": seconds}))

    def freeze(self) -> dict[str, Any]:
        return dict(self._client._call("POST", "/clock/freeze", {}))

    def run(self) -> dict[str, Any]:
        """Running at real speed from where it stands."""
        return dict(self._client._call("POST", "/clock/run", {}))

    def real_time(self) -> dict[str, Any]:
        return dict(self._client._call("POST", "/clock/real-time", {}))


class _Shaper:
    """The scenario helpers of one API: each call installs one item of its list (scenarios.py)."""

    api = ""
    member = ""

    def __init__(self, client: MockServerClient) -> None:
        self._client = client

    def _install(self, item: dict[str, Any]) -> None:
        self._client.scenario({self.api: {self.member: [item]}})


class MeshScenarios(_Shaper):
    """`mockserver.mesh`: Mesh users shaped at run time."""

    api, member = "mesh", "users"

    def user(
        self,
        user_id: str,
        positions: Sequence[Mapping[str, Any]] = (),
        account_type: str = "brokerage",
        error: int | Mapping[str, Any] | None = None,
    ) -> None:
        """A UserId whose portfolio holds these positions ({"symbol", "amount", "costBasis",
        "distribution"?}), valued at the sandbox's prices; or answering `error` (a status)."""
        user: dict[str, Any] = {"userId": user_id, "accountType": account_type, "positions": [dict(p) for p in positions]}
        if error is not None:
            user["error"] = {"status": error} if isinstance(error, int) else dict(error)
        self._install(user)


class OmniexScenarios(_Shaper):
    """`mockserver.omniex`: an API key's portfolios."""

    api, member = "omniex", "keys"

    def key(self, key: str, portfolios: Sequence[Mapping[str, Any]]) -> None:
        """The key's portfolios, in Omniex's terms (`name`, `integrations`, `positions` of accounts
        and balances); they replace its own (`[]`: none)."""
        self._install({"key": key, "portfolios": [dict(p) for p in portfolios]})


class TreasureScenarios(_Shaper):
    """`mockserver.treasure`: a business and its history."""

    api, member = "treasure", "businesses"

    def business(
        self,
        business_id: str,
        opening_date: str,
        allocations: Sequence[Mapping[str, Any]],
        contributions: Sequence[Mapping[str, Any]],
        client_id: str | None = None,
    ) -> None:
        """A business opened on `opening_date` (the 1st of a month), with its allocations over time
        ({"date", "products": [{"product", "percentage"}]}) and contributions ({"date", "amount"},
        negative: a withdrawal); seen by `client_id` (None: every client)."""
        business: dict[str, Any] = {
            "business_id": business_id,
            "opening_date": opening_date,
            "allocations": [dict(a) for a in allocations],
            "contributions": [dict(c) for c in contributions],
        }
        if client_id is not None:
            business["client_id"] = client_id
        self._install(business)


class BitpandaScenarios(_Shaper):
    """`mockserver.bitpanda`: a key's holdings as movements over time."""

    api, member = "bitpanda", "keys"

    def key(self, key: str, movements: Sequence[Mapping[str, Any]]) -> None:
        """The x-api-key's holdings: deposits and withdrawals ({"asset", "type", "at", "amount"})."""
        self._install({"key": key, "movements": [dict(m) for m in movements]})


class BitcainScenarios(_Shaper):
    """`mockserver.bitcain`: a user's ledger and portfolios."""

    api, member = "bitcain", "users"

    def user(
        self, user_id: str, ledger: Sequence[Mapping[str, Any]] | None = None, portfolios: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        """The user's ledger entries ({"at", "kind", "asset", "exchange", "quantity", "price_usd"?, ...})
        and portfolios (create bodies plus "created_at"); each one given replaces the user's own."""
        user: dict[str, Any] = {"user_id": user_id}
        if ledger is not None:
            user["ledger"] = [dict(entry) for entry in ledger]
        if portfolios is not None:
            user["portfolios"] = [dict(portfolio) for portfolio in portfolios]
        self._install(user)


def _reason(error: Any) -> str:
    """The detail of a problem+json answer (an HTTPError's body), else its text."""
    raw = error.read()
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:500] or str(error.reason)
    detail = payload.get("detail") if isinstance(payload, dict) else None
    hint = " (set --mockserver-control-token or $MOCKSERVER_CONTROL_TOKEN)" if error.code == 401 else ""
    return (str(detail) if detail else json.dumps(payload)[:500]) + hint


def urlencode(params: Mapping[str, str]) -> str:
    from urllib.parse import urlencode as encode

    return encode(params)


def _query_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
