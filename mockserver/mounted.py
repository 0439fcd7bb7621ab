"""What the application, the CLI and the control API need of any mounted API, REST or GraphQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from aiohttp import web

from .catalog import ApiDescription
from .sandbox.store import ApiState, Seeder
from .sandbox.world import World
from .vendors import Framework, ScenarioKind
from .vocabulary import Identity, RouteHandler


class Route(NamedTuple):
    method: str
    path: str  # full path, mount included
    operation: str


class MountedApi(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def mount(self) -> str: ...

    @property
    def kind(self) -> str: ...  # "openapi" or "graphql"

    @property
    def source(self) -> Path: ...  # the spec file

    @property
    def identities(self) -> list[Identity]: ...  # the credentials it accepts

    @property
    def world(self) -> World: ...  # the sandbox's seed, market, caches and (default) clock

    @property
    def credential_fields(self) -> frozenset[str]: ...  # lower-case header and query names that carry credentials

    @property
    def framework(self) -> Framework: ...  # what its web framework does where the description is silent

    def routes(self) -> list[Route]: ...

    def summary(self) -> str: ...  # one line for `mockserver check`

    def credential_hints(self) -> list[str]: ...  # one readable line per identity

    def credential_sets(self) -> list[dict[str, Any]]: ...  # {"identity", "forbidden", "headers", "query", "cookies", "values"}

    def well_known(self) -> list[dict[str, str]]: ...  # ids to try: {"name", "operation", "try"}

    def error_response(self, status: int, message: str) -> web.Response: ...  # in the API's own error format

    def reset(self) -> None: ...  # the API's state back to where it started

    @property
    def state_seeder(self) -> Seeder | None: ...  # what fills a new state (the default one, a session's)

    @property
    def state(self) -> ApiState: ...  # the default session's state (a session's: Session.state)

    @property
    def scenario(self) -> ScenarioKind | None: ...  # how its vendor's world is shaped at run time (scenarios.py)


@runtime_checkable
class SelfRouted(Protocol):
    """An API that adds its own routes, through `add_api_route` (GraphQL's endpoint); an OpenAPI
    description's operations are routed by routing.py."""

    def add_routes(self, app: web.Application) -> None: ...


class DescribedApi:
    """Name, mount and spec file of an API, all read from its description."""

    description: ApiDescription

    @property
    def name(self) -> str:
        return self.description.name

    @property
    def mount(self) -> str:
        return self.description.mount

    @property
    def source(self) -> Path:
        return self.description.path


class RouteTag(NamedTuple):
    """Which API and operation a route serves: what the pipeline's stages need (pipeline.Route)."""

    api: MountedApi
    operation: str | None  # None for an API's catch-all route


RouteGate = Callable[[RouteHandler, RouteTag | None], RouteHandler]  # a route's endpoint inside the pipeline's stages
ROUTE_GATE = web.AppKey[RouteGate]("route_gate")


def add_api_route(app: web.Application, method: str, path: str, endpoint: RouteHandler, api: MountedApi, operation: str | None) -> None:
    app.router.add_route(method, path, app[ROUTE_GATE](endpoint, RouteTag(api, operation)))
