"""The Notes API's error envelope."""

from mockserver.vocabulary import Problem, Reply, json_reply

CODES = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 409: "limit_reached"}


def notes_envelope(problem: Problem) -> Reply:
    """`{"error": {"code", "message"}}`, and `details` naming each field a request got wrong."""
    error: dict[str, object] = {"code": CODES.get(problem.status, "error"), "message": problem.message}
    if problem.violations:
        error["details"] = [{"field": violation.name, "message": violation.message} for violation in problem.violations]
    return json_reply(problem.status, {"error": error}, headers=problem.headers)


def error(status: int, message: str) -> Reply:
    return notes_envelope(Problem(status, message))
