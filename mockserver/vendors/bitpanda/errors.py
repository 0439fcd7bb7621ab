"""Bitpanda's errors in AppSync's shape: the engine's fault codes -> AppSync `errorType`, and the error entry.

An error from the transport or authentication has `errorType` and `message`; one from the
GraphQL document also has `path`, `data`, `errorInfo` and `locations`.
"""

from __future__ import annotations

from typing import Any

from ...graphql import (
    BAD_REQUEST,
    BAD_VARIABLES,
    FORBIDDEN,
    INTERNAL,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    OPERATION_UNKNOWN,
    PARSE_FAILED,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    Fault,
)

BAD_ARGUMENTS = "BadRequestException"  # a resolver's refusal of its arguments
APPSYNC_TYPES = {
    BAD_REQUEST: "MalformedHttpRequestException",
    UNSUPPORTED_MEDIA_TYPE: "MalformedHttpRequestException",
    PAYLOAD_TOO_LARGE: "MalformedHttpRequestException",
    METHOD_NOT_ALLOWED: "MethodNotAllowedException",
    NOT_FOUND: "NotFoundException",
    PARSE_FAILED: "InvalidSyntax",
    VALIDATION_FAILED: "ValidationError",
    OPERATION_UNKNOWN: "ValidationError",
    BAD_VARIABLES: "ValidationError",
    INTERNAL: "InternalFailure",
    UNAUTHENTICATED: "UnauthorizedException",
    FORBIDDEN: "UnauthorizedException",
    RATE_LIMITED: "LimitExceededException",
}


def appsync_error(fault: Fault) -> dict[str, Any]:
    """AppSync's error entry: `errorType` and `message`; with `path`, `data`, `errorInfo` and
    `locations` (each with `sourceName`) when the error comes from the GraphQL document."""
    error_type = APPSYNC_TYPES.get(fault.code, fault.code)
    if not fault.graphql:
        return {"errorType": error_type, "message": fault.message}
    return {
        "path": list(fault.path) if fault.path is not None else None,
        "data": None,
        "errorType": error_type,
        "errorInfo": None,
        "locations": [{"line": line, "column": column, "sourceName": None} for line, column in fault.locations or ()],
        "message": fault.message,
    }
