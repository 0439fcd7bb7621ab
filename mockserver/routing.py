"""The routes of each mounted API. An OpenAPI description's: one per operation, most specific
path first, each ending in answer choice, then the API's own catch-all answering 404, or 405
with `Allow` (and CORS preflights). A GraphQL API adds its own endpoint (graphql.py).

`add_api_route` puts each route's endpoint inside the pipeline's stages (pipeline.py), once.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .cors import is_preflight, preflight_response
from .mounted import MountedApi, SelfRouted, add_api_route
from .pipeline import operation
from .plan import ApiRuntime, OperationPlan
from .vocabulary import Problem, RouteHandler, Violation, to_response


def add_routes(app: web.Application, api: MountedApi) -> None:
    """An OpenAPI description's routes: one per operation (plans are sorted most specific first),
    then the catch-all. Another kind of API adds its own (SelfRouted)."""
    if isinstance(api, SelfRouted):
        api.add_routes(app)
        return
    assert isinstance(api, ApiRuntime)
    runtime = api
    endpoints = {plan.key: operation(plan) for plan in runtime.plans}
    for plan in runtime.plans:
        add_api_route(app, plan.method, plan.route, endpoints[plan.key], runtime, plan.key)
    fallback = fallback_handler(runtime, endpoints)
    if runtime.mount:
        add_api_route(app, "*", runtime.mount, fallback, runtime, None)
    add_api_route(app, "*", runtime.mount + "/{tail:.*}", fallback, runtime, None)


def allowed_methods(api: ApiRuntime, path: str) -> list[str]:
    """Methods the API defines for a concrete path (for 405 and CORS preflight)."""
    relative = path[len(api.mount) :] or "/"
    return sorted({plan.method for plan in api.plans if plan.path_regex.fullmatch(relative)})


def first_route_method(api: ApiRuntime, path: str) -> str:
    """The method of the first operation (most specific first, then in the spec's order) whose path
    matches: what Starlette's 405 allows, each FastAPI operation being a route of its own."""
    relative = path[len(api.mount) :] or "/"
    return next(plan.method for plan in api.plans if plan.path_regex.fullmatch(relative))


def decoded_route(api: ApiRuntime, request: web.Request) -> OperationPlan | None:
    """The operation whose path matches the request's decoded path (aiohttp's `request.path`), for its method."""
    relative = request.path[len(api.mount) :] or "/"
    return next((plan for plan in api.plans if plan.method == request.method and plan.path_regex.fullmatch(relative)), None)


def slash_redirect(api: ApiRuntime, request: web.Request) -> web.Response | None:
    """Starlette's `redirect_slashes`: a path that matches an operation once its trailing slash is
    added or removed is a 307 there, its query kept, to the host the request named."""
    path = request.path
    if path == "/":
        return None
    flipped = path[:-1] if path.endswith("/") else path + "/"
    if not allowed_methods(api, flipped):
        return None
    query = request.query_string
    location = f"{request.scheme}://{request.headers.get('Host', request.host)}{flipped}" + (f"?{query}" if query else "")
    return web.Response(status=307, headers={"Location": location})


def fallback_handler(runtime: ApiRuntime, endpoints: Mapping[str, RouteHandler]) -> RouteHandler:
    """The API's catch-all: CORS preflights, 404 and 405, and the paths aiohttp's router does not
    take although an operation's path matches them, sent to that operation: a segment holding
    `{` or `}` (a value like any other to the real services), and, for a framework that routes on
    the decoded path, an encoded slash (%2F). Elsewhere an encoded slash names no operation (404)."""
    framework = runtime.vendor.framework

    async def handle(request: web.Request) -> web.StreamResponse:
        plan = decoded_route(runtime, request)
        if plan is not None:
            if framework.decoded_paths or "%2f" not in request.raw_path.lower():
                return await endpoints[plan.key](request)
            return _no_operation(runtime, request)
        methods = allowed_methods(runtime, request.path)
        if is_preflight(request) and methods:
            return preflight_response(request, methods)
        if not methods:
            redirect = slash_redirect(runtime, request) if framework.redirect_slashes else None
            if redirect is not None:
                return redirect
            return _no_operation(runtime, request)
        allow = first_route_method(runtime, request.path) if framework.first_route_allow else ", ".join(methods)
        message = f"{request.method} is not allowed on {request.path}; allowed: {allow}"
        problem = Problem(405, message, [Violation("request", "method", message)], {"Allow": allow})
        return to_response(runtime.envelope(problem))

    return handle


def _no_operation(runtime: ApiRuntime, request: web.Request) -> web.Response:
    message = f"no operation at {request.path} in the {runtime.name} API"
    return to_response(runtime.envelope(Problem(404, message, [Violation("request", "path", message)])))
