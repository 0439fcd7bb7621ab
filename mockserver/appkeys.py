"""Typed keys for what the aiohttp application carries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .settings import Settings

if TYPE_CHECKING:
    from .plan import ApiRuntime

SETTINGS = web.AppKey("settings", Settings)
APIS = web.AppKey("apis", list["ApiRuntime"])
