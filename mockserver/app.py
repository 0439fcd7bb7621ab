"""Builds the aiohttp application from the mounted APIs: one route per operation."""

from __future__ import annotations

import hmac
from dataclasses import replace

from aiohttp import web

from .appkeys import APIS, SETTINGS, STORE
from .catalog import ApiDescription, bundled_dir, discover
from .control import add_control_routes
from .envelopes import problem_json
from .errors import LoadError
from .faults import Faults
from .fixtures import load_fixtures
from .journal import Journal
from .limits import Limits
from .mounted import ROUTE_GATE, MountedApi, RouteTag
from .pipeline import Route, compose
from .plan import Report, compile_api
from .routing import add_routes
from .sandbox.store import ApiState, Store
from .sandbox.world import World
from .scenarios import load_scenario_file
from .security import secrets_of
from .sessions import SESSION_PREFIX, SESSIONS, Sessions, in_session
from .settings import Settings, SettingsError
from .traffic import SECRETS, TRAFFIC, Traffic
from .unrouted import AnyTarget, unrouted
from .vendors import Vendor, vendor_for
from .vocabulary import Problem, RouteHandler, Violation, to_response


def load(
    settings: Settings, store: Store | None = None, unprefixed: str | None = None, remembered: bool = True
) -> tuple[list[MountedApi], Report]:
    """Load every spec and fixture once and compile their plans; state goes into `store`
    (a fresh in-memory one unless given). With `unprefixed`, only that API, at its
    production paths (for its own port). `remembered=False` checks every OpenAPI document
    even if the same bytes passed before."""
    store = store or Store()
    spec_dirs = settings.specs or [bundled_dir("specs")]
    fixture_dirs = settings.fixtures or ([bundled_dir("fixtures")] if bundled_dir("fixtures").is_dir() else [])
    world = World(settings.seed, settings.frozen_clock())
    descriptions = discover(spec_dirs, remembered)
    if unprefixed is not None:
        descriptions = [replace(d, prefixed=False) for d in descriptions if d.name == unprefixed]
        if not descriptions:
            raise LoadError(unprefixed, "no such API to serve on its own port")
    fixtures = load_fixtures(fixture_dirs)
    report = Report()
    known = {d.name for d in descriptions}
    for api_name, entries in fixtures.items():
        # the bundled fixtures simply do not apply to APIs that are not loaded; given ones must
        if api_name not in known and settings.fixtures and unprefixed is None:
            report.errors.append(f"{entries[0].source}: fixtures for {api_name!r}, but no such API is loaded")
    apis: list[MountedApi] = []
    for description in descriptions:
        vendor = vendor_for(description)
        state = store.for_api(description.name)
        if description.kind == "graphql":
            apis.append(_graphql_api(description, vendor, settings, world, state))
            continue
        runtime, api_report = compile_api(description, vendor, settings, world, state, fixtures.get(description.name, []))
        apis.append(runtime)
        report.extend(api_report)
    if settings.scenario is not None and unprefixed is None:
        load_scenario_file(settings.scenario, apis)
    return apis, report


def _graphql_api(description: ApiDescription, vendor: Vendor, settings: Settings, world: World, state: ApiState) -> MountedApi:
    from .graphql import compile_graphql  # graphql-core is imported only when a GraphQL API is loaded

    return compile_graphql(description, vendor, settings, world, state)


def load_or_fail(settings: Settings, store: Store | None = None, unprefixed: str | None = None) -> tuple[list[MountedApi], Report]:
    """`load`, raising LoadError when a fixture or spec has errors (warnings are left to the caller)."""
    apis, report = load(settings, store, unprefixed)
    if report.errors:
        raise LoadError("fixtures", "\n  " + "\n  ".join(report.errors))
    return apis, report


def create_app(
    settings: Settings, apis: list[MountedApi] | None = None, store: Store | None = None, traffic: Traffic | None = None
) -> web.Application:
    """The application; loads the specs itself unless mounted APIs are given. A store or
    traffic (journal and faults) that is given is shared, and its owner closes it."""
    owns_store = apis is None and store is None
    if apis is None:
        store = store or open_store(settings)
        apis, _ = load_or_fail(settings, store)
    _refuse_shared_control_token(settings, apis)
    limits = Limits.from_settings(settings)
    traffic = traffic or new_traffic(settings)
    secrets = secrets_of(apis, settings.control_token)

    def gate(endpoint: RouteHandler, tag: RouteTag | None, recorded: bool = True) -> RouteHandler:
        api, operation = tag if tag is not None else (None, None)
        return compose(endpoint, Route(api, operation, recorded, limits, traffic, secrets))

    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[APIS] = apis
    app[ROUTE_GATE] = gate
    app[TRAFFIC] = traffic
    app[SECRETS] = secrets
    if store is not None and owns_store:
        app[STORE] = store
        app.on_cleanup.append(_close_store)
    app[SESSIONS] = Sessions(store or Store(), apis[0].world if apis else World(settings.seed), settings, apis)
    app.router.add_route("*", f"{SESSION_PREFIX}/{{session}}", in_session)
    app.router.add_route("*", f"{SESSION_PREFIX}/{{session}}/{{tail:.*}}", in_session)
    add_control_routes(app, lambda handler: gate(handler, None, recorded=False))
    for api in apis:
        add_routes(app, api)
    if all(api.mount for api in apis):  # an API at the root (on its own port) answers everything itself
        app.router.add_route("*", "/{tail:.*}", gate(_unknown_api, None))
    app.router.register_resource(AnyTarget(gate(unrouted, None, recorded=False)))
    return app


def _refuse_shared_control_token(settings: Settings, apis: list[MountedApi]) -> None:
    """The control token opens /__mock only: no API may accept it as a credential."""
    token = (settings.control_token or "").encode()
    if token and any(
        hmac.compare_digest(token, value) for api in apis for identity in api.identities for value in identity.values.values()
    ):
        raise SettingsError("control_token must differ from every API credential")


def new_traffic(settings: Settings) -> Traffic:
    return Traffic(Journal(settings.journal_size, settings.journal_bytes), Faults())


def open_store(settings: Settings) -> Store:
    """The state store: a file with `--state`, else in memory."""
    return Store(settings.state, settings.max_state_bytes)


async def _close_store(app: web.Application) -> None:
    app[STORE].close()


async def _unknown_api(request: web.Request) -> web.StreamResponse:
    apis = [api.mount for api in request.app[APIS]]
    problem = Problem(
        404, f"no API is mounted at {request.path}; mounted: {', '.join(apis) or 'none'}", [Violation("request", "path", "unknown path")]
    )
    return to_response(problem_json(problem))
