"""Shared schemathesis set-up: bounded, deterministic runs against a real server process (each
vendor's conftest.py has one, `<vendor>_url`) with the project's own acceptance rules. Each
tests/<vendor>/test_schemathesis_<vendor>.py keeps only what is its vendor's: the spec, the
credentials, the rejections it tolerates, its stateful workflow."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st

# the OpenAPI format registry's `decimal` (a decimal number as a string), which the mock checks
schemathesis.openapi.format("decimal", st.decimals(allow_nan=False, allow_infinity=False, places=8).map(str))

# what every run demands of every response: no 5xx, and nothing that breaks the spec
CONFORMANCE_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)


def run_config(mode: str, max_examples: int) -> dict[str, Any]:
    """A seeded, derandomized run of at most `max_examples` per operation, with no example database.

    `positive_data_acceptance` is off: each test file replaces it with a stricter check of
    its own. Invalid data must be rejected with a client error: a 5xx is not a rejection.
    """
    return {
        "seed": 0,
        "generation": {"mode": mode, "max-examples": max_examples, "deterministic": True, "database": "none"},
        "checks": {
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"expected-statuses": ["4XX"]},
        },
    }


def load_schema(
    spec: Path | dict[str, Any], mode: str, max_examples: int, auth: dict[str, Any] | None = None, disabled: tuple[str, ...] = ()
) -> Any:
    """A schemathesis schema of an OpenAPI spec (a file, or its loaded document) for `mode`
    (positive or negative), as `run_config`.

    `auth` maps the spec's security scheme names to schemathesis credentials; `disabled` names
    checks the real service itself would fail (each caller says why).
    """
    config = run_config(mode, max_examples)
    config["checks"].update({name: {"enabled": False} for name in disabled})
    if auth:
        config["auth"] = {"openapi": auth}
    loaded = schemathesis.Config.from_dict(config)
    if isinstance(spec, dict):
        return schemathesis.openapi.from_dict(spec, config=loaded)
    return schemathesis.openapi.from_path(spec, config=loaded)


def state_machine(schema: Any, base_url: str, session: requests.Session) -> Any:
    """The schema's state machine, its calls sent to `base_url` over `session`: the base class of a
    vendor's stateful workflow."""

    class Calls(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": base_url, "session": session}

    return Calls


def stateful_settings(max_examples: int, steps: int) -> hypothesis.settings:
    """Bounded, deterministic settings for a schemathesis state machine."""
    return hypothesis.settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )


def load_graphql_schema(
    spec: Path,
    mode: str,
    max_examples: int,
    headers: dict[str, str],
    dictionaries: dict[str, list[str]] | None = None,
    bindings: dict[str, tuple[str, float]] | None = None,
) -> Any:
    """A schemathesis schema of a GraphQL SDL file for `mode`, as `run_config`, sending `headers`.

    `dictionaries` name lists of argument values; `bindings` map `<Type>.<field>.<argument>` to
    (dictionary, probability): the argument takes one of those values with that probability,
    and a generated one otherwise (schemathesis 4.28 and later).
    """
    config = run_config(mode, max_examples)
    config["headers"] = headers
    if dictionaries:
        config["dictionaries"] = {name: {"values": values} for name, values in dictionaries.items()}
    if bindings:
        config["parameters"] = {key: {"dictionary": name, "probability": chance} for key, (name, chance) in bindings.items()}
    return schemathesis.graphql.from_path(spec, config=schemathesis.Config.from_dict(config))


# Every server refuses a request target whose percent-escapes decode to a NUL, in the envelope of
# the API addressed (mockserver/limits.py: aiohttp would pass it on altered). A `type: string`
# path or query parameter may hold a NUL, and schemathesis generates them: valid data, rightly refused.
NUL_REFUSAL = "percent-encoded NUL (%00)"


def refuses_nul(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    """The answer is the server's refusal of a NUL in the request target, and the target sent had one."""
    sent = unquote_to_bytes(response.request.url or "")
    return response.status_code == 400 and b"\x00" in sent and NUL_REFUSAL in response.text


def accepted(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    """A 2xx, or the server's refusal of a NUL (above): schema-valid data needs no tolerated rule."""
    return 200 <= response.status_code < 300 or refuses_nul(case, response)


def sent(response: schemathesis.Response) -> str:
    """The request that got `response`, as a failure message names it: `METHOD URL`."""
    return f"{response.request.method} {response.request.url}"


def assert_not_a_server_error(response: schemathesis.Response) -> None:
    """What every negative-data case must get, whatever else the checks allow: no 5xx."""
    assert response.status_code < 500, f"{sent(response)}: {response.status_code} {response.text}"


def assert_required_checks(schema: Any, required: Iterable[str]) -> None:
    """Every required check is on; the lenient positive_data_acceptance is off, replaced in each
    run by a stricter rule of its own."""
    checks = schema.config.checks_config_for(operation=None, phase=None)
    for name in required:
        assert getattr(checks, name).enabled, name
    assert not checks.positive_data_acceptance.enabled


def required_checks_test(required: tuple[str, ...], **schemas: Any) -> Callable[[Any], None]:
    """`test_required_checks_are_enabled` for a test module: `assert_required_checks` over each of
    its schemas, the keyword naming the test id."""

    @pytest.mark.parametrize("schema", list(schemas.values()), ids=list(schemas))
    def test_required_checks_are_enabled(schema: Any) -> None:
        assert_required_checks(schema, required)

    return test_required_checks_are_enabled
