"""The dashboard page at /__mock/: one self-contained HTML page for people working offline.

The page (dashboard.html, shipped in the package) has no external assets: its one inline
style and one inline script are allowed by their hashes in a strict Content-Security-Policy,
which also turns on Trusted Types so that no string can ever be parsed as markup. The script
reads the control API (`apis`, `requests`, `reset`, `clock`, `scenarios`, `sessions`) with
relative URLs, so the page at `/__session/<id>/__mock/` shows that session's journal, clock and
scenario; with a control token it reads the token from the page's own `?token=` and sends it
as a bearer header. Each operation's example request (try_requests.py, in `apis`) is shown as a
curl line and sent by its "Try it" button to the page's own origin; a signed API's requests are
signed in the page (WebCrypto), with a secret typed into the page when settings hide it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from .sessions import session_of
from .traffic import CONTROL_PREFIX

PAGE_FILE = "dashboard.html"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


@dataclass(frozen=True)
class Page:
    body: bytes
    headers: dict[str, str]


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def build_page(html: str) -> Page:
    """The page and its headers: a CSP that allows exactly its inline script and style."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, content in _INLINE.findall(html):
        hashes[tag].append(_sha256(content))
    if not hashes["script"] or not hashes["style"]:
        raise ValueError(f"{PAGE_FILE} needs an inline <script> and an inline <style>")
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(hashes["script"]),
            "style-src " + " ".join(hashes["style"]),
            "connect-src 'self'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )
    headers = {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the page's URL may carry the control token
        "X-Frame-Options": "DENY",
    }
    return Page(html.encode(), headers)


PAGE = build_page(resources.files(__package__).joinpath(PAGE_FILE).read_text(encoding="utf-8"))  # a file of the package


def page() -> Page:
    return PAGE


async def dashboard_page(request: web.Request) -> web.Response:
    current = page()
    return web.Response(body=current.body, content_type="text/html", charset="utf-8", headers=current.headers)


async def dashboard_redirect(request: web.Request) -> web.Response:
    """`/__mock` -> `/__mock/` (keeping `?token=`, and a session's prefix), so that the page's
    relative URLs resolve: under `/__session/<id>` they are that session's control routes."""
    session = session_of(request)
    prefix = session.prefix if session is not None else ""
    location = prefix + CONTROL_PREFIX + "/" + (f"?{request.query_string}" if request.query_string else "")
    raise web.HTTPFound(location, headers={"Cache-Control": "no-store"})
