"""CORS for front-end developers: preflights answered, the request's Origin echoed.

The Origin is echoed rather than `*` so that credentialed browser requests work. That is for
the vendor APIs only: the control API (/__mock) answers no CORS at all, so that no page of
another origin can read it (control.py's perimeter).
"""

from __future__ import annotations

from aiohttp import web

from .traffic import CONTROL_PREFIX

# headers a browser exposes without being told (CORS-safelisted response headers)
_SAFELISTED = frozenset({"cache-control", "content-language", "content-length", "content-type", "expires", "last-modified", "pragma"})
PREFLIGHT_MAX_AGE = "600"


def is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Origin" in request.headers and "Access-Control-Request-Method" in request.headers


def preflight_response(request: web.Request, methods: list[str]) -> web.Response:
    headers = {
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    }
    requested = request.headers.get("Access-Control-Request-Headers")
    if requested:
        headers["Access-Control-Allow-Headers"] = requested
    return web.Response(status=204, headers=headers)


def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Echo the Origin and expose every non-safelisted header (called on every routed answer),
    but for the control API."""
    origin = request.headers.get("Origin")
    if not origin or is_control_path(request.path):
        return
    headers = response.headers
    exposed = [name for name in headers if name.lower() not in _SAFELISTED]
    headers["Access-Control-Allow-Origin"] = origin
    headers["Access-Control-Allow-Credentials"] = "true"
    headers.add("Vary", "Origin")
    if exposed:
        headers["Access-Control-Expose-Headers"] = ", ".join(exposed)


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")
