"""Fixtures: named request matches and the responses they get.

A fixture file is `fixtures/<api>/<anything>.yaml` holding a list of entries:

    - name: cex-example
      operation: GET /api/v1/holdings/portfolio   # or an operationId
      match:                                      # all given values must be equal
        query: {UserId: cex-example}
        headers: {}
        path: {}
      response:
        status: 200
        example: CEX example                      # a named example of that response in the spec
        # or `body: {...}` inline; optional `headers: {...}`
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import load_document_list
from .errors import LoadError

MATCH_LOCATIONS = ("query", "headers", "path")


@dataclass
class FixtureEntry:
    name: str
    source: str  # file and index, for messages
    api: str
    operation: str
    match: dict[str, dict[str, str]]
    status: int
    example: str | None
    body: Any
    has_body: bool
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._checks = tuple(
            (MATCH_LOCATIONS.index(where), key, value) for where, pairs in self.match.items() for key, value in pairs.items()
        )

    def matches(self, query: Mapping[str, str], headers: Mapping[str, str], path: Mapping[str, str]) -> bool:
        sources = (query, headers, path)  # in MATCH_LOCATIONS order
        for where, key, value in self._checks:  # a plain loop: this runs for every request of the operation
            if sources[where].get(key) != value:
                return False
        return True


def fixture_entry(api: str, source: str, raw: Any) -> FixtureEntry:
    """One entry of a fixture file (or of a scenario's `fixtures`); LoadError says what is wrong."""
    if not isinstance(raw, dict):
        raise LoadError(source, "a fixture must be a mapping")
    for key in ("name", "operation", "response"):
        if key not in raw:
            raise LoadError(source, f"fixture is missing {key!r}")
    match = raw.get("match") or {}
    if not isinstance(match, dict) or set(match) - set(MATCH_LOCATIONS):
        raise LoadError(source, f"`match` may only hold {', '.join(MATCH_LOCATIONS)}")
    response = raw["response"]
    if not isinstance(response, dict):
        raise LoadError(source, "`response` must be a mapping")
    if "body" in response and "example" in response:
        raise LoadError(source, "`response` takes `body` or `example`, not both")
    try:
        status = int(response.get("status", 200))
    except (TypeError, ValueError) as exc:
        raise LoadError(source, "`response.status` must be an integer") from exc
    return FixtureEntry(
        name=str(raw["name"]),
        source=source,
        api=api,
        operation=str(raw["operation"]),
        match={where: {str(k): _text(v) for k, v in (pairs or {}).items()} for where, pairs in match.items()},
        status=status,
        example=str(response["example"]) if "example" in response else None,
        body=response.get("body"),
        has_body="body" in response,
        headers={str(k): str(v) for k, v in (response.get("headers") or {}).items()},
    )


def _text(value: Any) -> str:
    """Match values compare as request text: YAML `true` means the string `true`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_fixtures(fixture_dirs: list[Path]) -> dict[str, list[FixtureEntry]]:
    """Fixture entries per API name, from `<dir>/<api>/*.yaml` in every folder given."""
    found: dict[str, list[FixtureEntry]] = {}
    for folder in fixture_dirs:
        if not folder.is_dir():
            raise LoadError(str(folder), "fixtures folder does not exist")
        for api_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            for path in sorted(api_dir.glob("*.y*ml")):
                entries = load_document_list(path)
                found.setdefault(api_dir.name, []).extend(
                    fixture_entry(api_dir.name, f"{path}[{index}]", raw) for index, raw in enumerate(entries)
                )
    return found
