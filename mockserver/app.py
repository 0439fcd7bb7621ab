"""Builds the aiohttp application from the compiled plans: one route per operation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .appkeys import APIS, SETTINGS
from .catalog import bundled_dir, discover
from .control import add_control_routes
from .cors import add_cors_headers, is_preflight, preflight_response
from .envelopes import Problem, problem_json
from .errors import LoadError
from .fixtures import load_fixtures
from .pipeline import allowed_methods, api_fallback, problem_response, run_operation, to_response
from .plan import ApiRuntime, OperationPlan, Report, compile_api
from .sandbox.world import World
from .settings import Settings
from .validation import Violation
from .vendors import vendor_for

log = logging.getLogger("mockserver")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load(settings: Settings) -> tuple[list[ApiRuntime], Report]:
    """Load every spec and fixture once and compile their plans."""
    spec_dirs = settings.specs or [bundled_dir("specs")]
    fixture_dirs = settings.fixtures or ([bundled_dir("fixtures")] if bundled_dir("fixtures").is_dir() else [])
    world = World(settings.seed, settings.frozen_clock())
    descriptions = discover(spec_dirs)
    fixtures = load_fixtures(fixture_dirs)
    report = Report()
    known = {d.name for d in descriptions}
    for api_name, entries in fixtures.items():
        # the bundled fixtures simply do not apply to APIs that are not loaded; given ones must
        if api_name not in known and settings.fixtures:
            report.errors.append(f"{entries[0].source}: fixtures for {api_name!r}, but no such API is loaded")
    runtimes = []
    for description in descriptions:
        vendor = vendor_for(str(description.extension.get("vendor") or description.name))
        runtime, api_report = compile_api(description, vendor, settings, world, fixtures.get(description.name, []))
        runtimes.append(runtime)
        report.extend(api_report)
    return runtimes, report


def load_or_fail(settings: Settings) -> tuple[list[ApiRuntime], Report]:
    """`load`, raising LoadError when a fixture or spec has errors (warnings are left to the caller)."""
    runtimes, report = load(settings)
    if report.errors:
        raise LoadError("fixtures", "\n  " + "\n  ".join(report.errors))
    return runtimes, report


def create_app(settings: Settings, runtimes: list[ApiRuntime] | None = None) -> web.Application:
    """The application; loads the specs itself unless compiled runtimes are given."""
    if runtimes is None:
        runtimes, _ = load_or_fail(settings)
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[APIS] = runtimes
    add_control_routes(app)
    for runtime in runtimes:
        for plan in runtime.plans:
            app.router.add_route(plan.method, plan.route, _operation_handler(plan))
        fallback = _fallback_handler(runtime)
        app.router.add_route("*", runtime.mount, fallback)
        app.router.add_route("*", runtime.mount + "/{tail:.*}", fallback)
    app.router.add_route("*", "/{tail:.*}", _unknown_api)
    app.on_response_prepare.append(add_cors_headers)
    return app


def _operation_handler(plan: OperationPlan) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await run_operation(plan, request)
        except web.HTTPException:
            raise
        except Exception:  # a bug must still answer in the vendor's envelope, never as a bare traceback
            log.exception("unhandled error in %s %s", plan.method, plan.path)
            return problem_response(plan.api, Problem(500, "the mock server failed to handle this request"))

    return handle


def _fallback_handler(runtime: ApiRuntime) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if is_preflight(request):
            methods = allowed_methods(runtime, request.path)
            if methods:
                return preflight_response(request, methods)
        return await api_fallback(runtime, request)

    return handle


async def _unknown_api(request: web.Request) -> web.StreamResponse:
    apis = [runtime.mount for runtime in request.app[APIS]]
    problem = Problem(
        404, f"no API is mounted at {request.path}; mounted: {', '.join(apis) or 'none'}", [Violation("request", "path", "unknown path")]
    )
    return to_response(problem_json(problem))
