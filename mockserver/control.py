"""The /__mock control API: health and reset."""

from __future__ import annotations

from aiohttp import web

from .appkeys import APIS
from .envelopes import json_reply
from .pipeline import to_response

CONTROL_PREFIX = "/__mock"


def add_control_routes(app: web.Application) -> None:
    app.router.add_get(f"{CONTROL_PREFIX}/health", health, allow_head=True)
    app.router.add_post(f"{CONTROL_PREFIX}/reset", reset)


async def health(request: web.Request) -> web.Response:
    """Liveness for Docker's HEALTHCHECK and CI: the APIs that are mounted."""
    apis = request.app[APIS]
    return to_response(json_reply(200, {"status": "ok", "apis": [api.name for api in apis]}))


async def reset(request: web.Request) -> web.Response:
    """Every API's state back to where it started (the seed and the fixtures)."""
    apis = request.app[APIS]
    for api in apis:
        api.reset()
    return to_response(json_reply(200, {"reset": [api.name for api in apis]}))
