"""FastAPI's error envelope: `{"detail": "message"}`, and the 422 list for validation problems.

`fastapi_envelope` turns the engine's Problem into the answer FastAPI and Starlette give
(401 with its Bearer challenge, Starlette's own 404 and 405, the 422 list of pydantic
items); `detail` and `validation_reply` are what the handlers answer with.
"""

from __future__ import annotations

from typing import Any

from ...vocabulary import Problem, Reply, json_reply, reason
from .validation_errors import in_model_order, pydantic_error, undecodable, unreadable_body

CHALLENGE = "Bearer"  # FastAPI's HTTPBearer challenge, exactly


def fastapi_envelope(problem: Problem) -> Reply:
    """A Problem as FastAPI would answer it."""
    headers = dict(problem.headers)
    status = problem.status
    if status == 401:
        headers["WWW-Authenticate"] = CHALLENGE
        missing = all(v.reason == "missing" for v in problem.violations)
        return detail(401, "Not authenticated" if missing else "Invalid authentication credentials", headers)
    form = next((v for v in problem.violations if v.keyword == "form"), None)
    if form is not None:
        return detail(400, form.expected, headers)  # Starlette's own words for a body that is not a form
    if any(v.keyword == "json" and undecodable(v.value) for v in problem.violations):
        return detail(400, "There was an error parsing the body", headers)  # FastAPI could not decode the text
    if status == 415:
        return json_reply(422, {"detail": [unreadable_body(v) for v in problem.violations[:1]]}, headers=headers)
    if status == 422:
        return json_reply(422, {"detail": [pydantic_error(v) for v in in_model_order(problem.violations)]}, headers=headers)
    if status in (404, 405) and any(v.location == "request" for v in problem.violations):
        return detail(status, reason(status), headers)  # Starlette's own 404 and 405
    if status in (403, 413, 414, 431) or (status == 400 and any(v.reason == "malformed" for v in problem.violations)):
        return detail(status, problem.message, headers)  # refusals whose message says what to change
    return detail(status, reason(status), headers)


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, {"detail": message}, headers=headers)


def validation_reply(*items: dict[str, Any]) -> Reply:
    return json_reply(422, {"detail": list(items)})
