"""The generic error envelope, RFC 7807 problem+json.

A vendor module supplies its own `Envelope` (a function Problem -> Reply, vocabulary.py) for the
format its real API uses; a spec with no vendor module gets `problem_json`.
"""

from __future__ import annotations

from .vocabulary import Problem, Reply, json_reply


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
