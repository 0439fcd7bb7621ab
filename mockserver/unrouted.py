"""Request targets that no path can match (`OPTIONS *`): answered in problem+json by a route
of their own, behind the same request limits as every route, rather than by the router's
plain-text 404.

aiohttp's router matches paths that start with "/"; the catch-all routes take every one of
those, so `AnyTarget`, registered last, only ever sees the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import hdrs, web
from yarl import URL

from .envelopes import problem_json
from .validation import echo
from .vocabulary import Problem, RouteHandler, Violation, to_response


async def unrouted(request: web.Request) -> web.Response:
    message = f"no route takes {request.method} {echo(request.raw_path)}"
    return to_response(problem_json(Problem(404, message, [Violation("request", "path", message)])))


class AnyTarget(web.AbstractResource):
    """A resource that takes every target and method, for `handler`."""

    def __init__(self, handler: RouteHandler) -> None:
        super().__init__()
        self._route = web.ResourceRoute(hdrs.METH_ANY, handler, self)

    @property
    def canonical(self) -> str:
        return "/"  # indexed with the root's routes, after them: it is tried last

    def url_for(self, **kwargs: str) -> URL:
        raise RuntimeError("the route for unroutable targets has no URL")

    async def resolve(self, request: web.Request) -> tuple[web.UrlMappingMatchInfo, set[str]]:
        return web.UrlMappingMatchInfo({}, self._route), {hdrs.METH_ANY}

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("the route for unroutable targets cannot be prefixed")

    def get_info(self) -> dict[str, Any]:
        return {}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        yield self._route
