"""The /__mock control API (health for now)."""

from __future__ import annotations

from aiohttp import web

from .appkeys import APIS
from .envelopes import json_reply
from .pipeline import to_response

CONTROL_PREFIX = "/__mock"


def add_control_routes(app: web.Application) -> None:
    app.router.add_get(f"{CONTROL_PREFIX}/health", health, allow_head=True)


async def health(request: web.Request) -> web.Response:
    """Liveness for Docker's HEALTHCHECK and CI: the APIs that are mounted."""
    apis = request.app[APIS]
    return to_response(json_reply(200, {"status": "ok", "apis": [api.name for api in apis]}))
