"""Treasure's error envelope: `error_code`, `error_message` and one `details` entry per violation.

Holds the status -> error code and reason -> reason code tables, the Bearer challenge every
401 carries, and the rule that a rejected client_secret is never quoted back.
"""

from __future__ import annotations

from dataclasses import replace

from ...vocabulary import Problem, Reply, Violation, json_reply

CHALLENGE = 'Bearer realm="mockserver"'  # the engine's challenge, also for 401s it does not add one to
CODE_BY_STATUS = {
    400: "INVALID_PARAMS",
    401: "NOT_AUTHENTICATED",
    403: "NOT_AUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_TEMPORARILY_UNAVAILABLE",
}
TARGET_TYPES = {"query": "query_param", "path": "path_param", "header": "header", "cookie": "cookie", "body": "body"}
# Violation.reason -> reason_code; "invalid" depends on where (see _reason_code)
REASON_CODES = {
    "missing": "REQUIRED",
    "empty": "EMPTY",
    "type": "INVALID_TYPE",
    "malformed": "MALFORMED",
    "unsupported": "UNSUPPORTED",
    "range": "INVALID_RANGE",
    "token": "INVALID_TOKEN",
    "expired": "EXPIRED",
    "credentials": "INVALID_CREDENTIALS",
    "forbidden": "NOT_AUTHORIZED",
    "not_found": "NOT_FOUND",
    "no_history": "NO_PORTFOLIO_HISTORY",
}
SECRET_FIELD, SECRET_RULE = "/client_secret", "client_secret must be a non-empty string"


def fail(status: int, message: str, location: str, name: str, reason: str) -> Problem:
    """A problem with one violation that says the same as the problem."""
    return Problem(status, message, [Violation(location, name, message, reason)])


def error_code(problem: Problem) -> str:
    if problem.status == 400 and any(v.location == "path" for v in problem.violations):
        return "INVALID_PATH"
    return CODE_BY_STATUS.get(problem.status, "SERVICE_TEMPORARILY_UNAVAILABLE" if problem.status >= 500 else "INVALID_PARAMS")


def _reason_code(violation: Violation, status: int, code: str) -> str:
    if violation.reason in REASON_CODES:
        return REASON_CODES[violation.reason]
    if status != 400:
        return code  # a problem with the whole request (unknown path, method, media type, size)
    return "INVALID_VALUE" if violation.location == "body" else "INVALID_FORMAT"  # parameters arrive as text


def treasure_envelope(problem: Problem) -> Reply:
    """`{"error_code", "error_message", "details": [{"target_type", "target", "message", "reason_code"}]}`."""
    code = error_code(problem)
    message, violations = _without_secrets(problem)
    details = [
        {
            "target_type": TARGET_TYPES.get(v.location, "request"),
            "target": v.name,
            "message": v.message,
            "reason_code": _reason_code(v, problem.status, code),
        }
        for v in violations
    ]
    payload = {"error_code": code, "error_message": message, "details": details}
    return json_reply(problem.status, payload, headers=_error_headers(problem))


def _is_secret(violation: Violation) -> bool:
    return violation.location == "body" and violation.name == SECRET_FIELD


def _without_secrets(problem: Problem) -> tuple[str, list[Violation]]:
    """Schema messages quote the value they reject; for client_secret, say what is wrong without it
    (the message is rebuilt as the pipeline builds it: the violations' messages joined by "; ")."""
    if problem.status != 400 or not any(_is_secret(v) for v in problem.violations):
        return problem.message, problem.violations
    violations = [replace(v, message=SECRET_RULE, value=None) if _is_secret(v) else v for v in problem.violations]
    return "; ".join(v.message for v in violations), violations


def _error_headers(problem: Problem) -> dict[str, str]:
    """Every 401 carries a Bearer challenge, with RFC 6750's invalid_token when a token was sent."""
    headers = dict(problem.headers)
    if problem.status == 401:
        challenge = headers.get("WWW-Authenticate", CHALLENGE)
        if any(v.reason in ("token", "expired") for v in problem.violations):
            challenge += ', error="invalid_token"'
        headers["WWW-Authenticate"] = challenge
    return headers
