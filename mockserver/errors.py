"""Errors raised while loading specs, fixtures, settings and the state file (never on the request path)."""

from __future__ import annotations


class LoadError(Exception):
    """A spec, fixture, folder or state file that cannot be used, with where and why."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")
        self.where = where
        self.why = why
