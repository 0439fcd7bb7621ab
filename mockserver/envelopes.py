"""Replies and error problems, and the generic RFC 7807 problem+json envelope.

A vendor module supplies its own `Envelope` (a function Problem -> Reply) for the
format its real API uses; a spec with no vendor module gets `problem_json`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import orjson

from .validation import Violation


@dataclass(slots=True)
class Reply:
    """A finished answer: status, serialized body and headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Problem:
    """Why a request failed, before any vendor has formatted it."""

    status: int
    message: str
    violations: list[Violation] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return reason(self.status)


Envelope = Callable[[Problem], Reply]


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def json_reply(status: int, payload: object, content_type: str = "application/json", headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, orjson.dumps(payload), content_type, headers or {})


def problem_json(problem: Problem) -> Reply:
    """RFC 7807: type, title, status, detail, plus the list of violations."""
    payload: dict[str, object] = {
        "type": "about:blank",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.message,
    }
    if problem.violations:
        payload["violations"] = [v.as_dict() for v in problem.violations]
    return json_reply(problem.status, payload, "application/problem+json", dict(problem.headers))
