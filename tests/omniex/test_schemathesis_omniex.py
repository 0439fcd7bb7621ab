"""Property-based conformance of the Omniex mock against specs/omniex.yaml, with signed requests.

Every generated request is signed as the Omniex reference describes (a schemathesis auth
provider computes the HMAC-SHA384 over the final method, path and timestamp), so that the
run reaches validation and the handlers. Bounded and deterministic, like every schemathesis run:

* positive data: schema-valid requests get a documented, schema-conformant 200 (a 404 for a
  well-formed id the caller cannot see), or one of the rejections in TOLERATED_REJECTIONS;
* negative data: schema-invalid requests get a 4xx in the spec's shape, never a 5xx or a 2xx;
* stateful: the spec has no links; schemathesis infers them (dependency analysis) between the
  list and the portfolio by id, and a portfolio the list returned must be found by its id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import requests
import schemathesis

from .. import fuzzing
from ..helpers import ROOT
from .helpers import BASE, signed

OMNIEX_SPEC = ROOT / "specs" / "omniex.yaml"
MAX_EXAMPLES = 60
REQUIRED_CHECKS = (*fuzzing.CONFORMANCE_CHECKS, "negative_data_rejection", "ignored_auth")


def load_schema(mode: str, max_examples: int = MAX_EXAMPLES) -> Any:
    schema = fuzzing.load_schema(OMNIEX_SPEC, mode, max_examples)

    @schema.auth(refresh_interval=None)
    class OmniexSignature:
        def get(self, case: schemathesis.Case, context: Any) -> str:
            return "sign"

        def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), **signed(case.method, BASE + case.formatted_path)}

    return schema


positive = load_schema("positive")
negative = load_schema("negative")
stateful = load_schema("positive", 10)


# Schema-valid requests the sandbox rightly refuses. Each takes the case and the response.
Rule = Callable[[schemathesis.Case, schemathesis.Response], bool]


def _unknown_portfolio(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    # any uuid is a valid id, but only the caller's portfolios are found
    return case.path == "/portfolios/{id}" and response.status_code == 404


TOLERATED_REJECTIONS: tuple[Rule, ...] = (_unknown_portfolio, fuzzing.refuses_nul)


def assert_accepted(case: schemathesis.Case, response: schemathesis.Response) -> None:
    """Schema-valid data gets a 200, or a rejection the schema cannot express."""
    if response.status_code == 200:
        return
    assert any(rule(case, response) for rule in TOLERATED_REJECTIONS), f"{fuzzing.sent(response)}: {response.status_code} {response.text}"


@positive.parametrize()
def test_omniex_positive_data(case: schemathesis.Case, omniex_url: str, session: requests.Session) -> None:
    response = case.call_and_validate(base_url=omniex_url, session=session)
    assert_accepted(case, response)


@negative.parametrize()
def test_omniex_negative_data(case: schemathesis.Case, omniex_url: str, session: requests.Session) -> None:
    fuzzing.assert_not_a_server_error(case.call_and_validate(base_url=omniex_url, session=session))


def test_omniex_stateful_links(omniex_url: str, session: requests.Session) -> None:
    listed: set[str] = set()
    found: list[str] = []

    class Workflow(fuzzing.state_machine(stateful, omniex_url, session)):  # type: ignore[misc]
        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: Any) -> None:
            super().validate_response(response, case, **kwargs)
            request = fuzzing.sent(response)
            if case.path == "/portfolios" and response.status_code == 200:
                listed.update(portfolio["id"] for portfolio in orjson.loads(response.content)["data"])
            elif case.path == "/portfolios/{id}" and (case.path_parameters or {}).get("id") in listed:
                assert response.status_code == 200, f"{request}: a listed portfolio not found: {response.status_code} {response.text}"
                found.append(case.path_parameters["id"])
            assert_accepted(case, response)

    Workflow.run(settings=fuzzing.stateful_settings(max_examples=10, steps=4))
    assert found, "no listed portfolio was fetched by its id"


test_required_checks_are_enabled = fuzzing.required_checks_test(REQUIRED_CHECKS, positive=positive, negative=negative, stateful=stateful)
