"""Typed keys for what the aiohttp application carries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .sandbox.store import Store
from .settings import Settings

if TYPE_CHECKING:
    from .mounted import MountedApi

SETTINGS = web.AppKey("settings", Settings)
APIS = web.AppKey("apis", list["MountedApi"])
STORE = web.AppKey("store", Store)
