"""Shared schemathesis set-up: bounded, deterministic runs with the project's own acceptance rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis

# what every run demands of every response: no 5xx, and nothing that breaks the spec
CONFORMANCE_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)


def load_schema(spec: Path, mode: str, max_examples: int, auth: dict[str, Any] | None = None) -> Any:
    """A schemathesis schema for `mode` (positive or negative), seeded, with no example database.

    `positive_data_acceptance` is off: each test file replaces it with a stricter check of
    its own. Invalid data must be rejected with a client error: a 5xx is not a rejection.
    `auth` maps the spec's security scheme names to schemathesis credentials.
    """
    config: dict[str, Any] = {
        "seed": 0,
        "generation": {"mode": mode, "max-examples": max_examples, "deterministic": True, "database": "none"},
        "checks": {
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"expected-statuses": ["4XX"]},
        },
    }
    if auth:
        config["auth"] = {"openapi": auth}
    return schemathesis.openapi.from_path(spec, config=schemathesis.Config.from_dict(config))
