"""What the application, the CLI and the control API need of any mounted API, REST or GraphQL."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Protocol

from aiohttp import web


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

    def add_routes(self, app: web.Application) -> None: ...

    def routes(self) -> list[Route]: ...

    def summary(self) -> str: ...  # one line for `mockserver check`

    def credential_hints(self) -> list[str]: ...

    def reset(self) -> None: ...  # the API's state back to where it started
