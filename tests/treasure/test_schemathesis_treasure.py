"""Property-based conformance of the Treasure mock, with schemathesis, against a real server process.

Bounded, deterministic runs over specs/treasure.yaml (examples, coverage and fuzzing phases; no
example database):

* positive data, with the pre-issued sandbox token sent through the spec's bearer scheme:
  schema-valid requests must get a documented, schema-conformant 2xx answer, or one of the
  rejections in TOLERATED_REJECTIONS, each checked against the exact detail the server sends;
* negative data, likewise: schema-invalid requests must get a 4xx (never a 5xx, never a 2xx), in
  the spec's shape;
* stateful, the client-credentials flow: the spec has no links, so one is added to the loaded
  document (the token endpoint's `access_token` -> getPortfolioHistory's `Authorization`). Tokens
  are issued to the sandbox client, and every history request that carries one is authenticated.

Every built-in response check stays on except `positive_data_acceptance`, replaced by the stricter
`assert_accepted` below, as in every schemathesis run (tests/fuzzing.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson
import requests
import schemathesis
import yaml

from mockserver.vendors.treasure.history import accepts_json
from mockserver.vendors.treasure.model import DOCUMENT_BUSINESS

from .. import fuzzing
from ..helpers import ROOT
from .helpers import CLIENT, TOKEN

TREASURE_SPEC = ROOT / "specs" / "treasure.yaml"
MAX_EXAMPLES = 60
REQUIRED_CHECKS = (*fuzzing.CONFORMANCE_CHECKS, "negative_data_rejection", "ignored_auth")


def load_schema(mode: str) -> Any:
    return fuzzing.load_schema(TREASURE_SPEC, mode, MAX_EXAMPLES, {"bearerAuth": {"bearer": TOKEN}})


def with_token_link(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec, with a link from an issued token to the request it authenticates."""
    linked = copy.deepcopy(spec)
    issued = linked["paths"]["/v1/oauth/token"]["post"]["responses"]["200"]
    issued["links"] = {
        "UseTheToken": {
            "operationId": "getPortfolioHistory",
            "parameters": {"header.Authorization": "Bearer {$response.body#/access_token}"},
        }
    }
    return linked


positive = load_schema("positive")
negative = load_schema("negative")
# no `auth`: the history requests get their token from the link (the others are rightly 401)
stateful = fuzzing.load_schema(with_token_link(yaml.safe_load(TREASURE_SPEC.read_text(encoding="utf-8"))), "positive", 10)


@stateful.hook
def map_body(context: Any, body: Any) -> Any:
    """The sandbox client's credentials, so that the token endpoint issues tokens."""
    if context.operation.path == "/v1/oauth/token" and isinstance(body, dict):
        body = {**body, **CLIENT}
    return body


@stateful.hook
def map_path_parameters(context: Any, path_parameters: Any) -> Any:
    """A business with a history: a generated id is almost never one."""
    if isinstance(path_parameters, dict) and "business_id" in path_parameters:
        path_parameters = {**path_parameters, "business_id": DOCUMENT_BUSINESS}
    return path_parameters


# Schema-valid requests the sandbox rightly refuses: the schema cannot say these rules.
# Each takes the case, the response status and one detail of the error body.
Rule = Callable[[schemathesis.Case, int, dict[str, str]], bool]


def _start_after_end(case: schemathesis.Case, status: int, detail: dict[str, str]) -> bool:
    query = case.query or {}
    return (
        status == 400
        and detail["reason_code"] == "INVALID_RANGE"
        and date.fromisoformat(query["start_date"]) > date.fromisoformat(query["end_date"])
    )


def _unknown_business(case: schemathesis.Case, status: int, detail: dict[str, str]) -> bool:
    # any well-formed business id is valid data, but only the sandbox's known businesses have a history
    return status == 404 and detail["target"] == "business_id" and detail["reason_code"] in ("NOT_FOUND", "NO_PORTFOLIO_HISTORY")


def _accept_without_json(case: schemathesis.Case, status: int, detail: dict[str, str]) -> bool:
    # the spec can only say `type: string` for Accept; media ranges that exclude JSON are 406
    return status == 406 and detail["target"] == "Accept" and not accepts_json((case.headers or {}).get("Accept"))


def _unknown_client(case: schemathesis.Case, status: int, detail: dict[str, str]) -> bool:
    # generated client credentials are well-formed but belong to no sandbox client
    return status == 401 and case.operation.path == "/v1/oauth/token" and detail["reason_code"] == "INVALID_CREDENTIALS"


TOLERATED_REJECTIONS: tuple[Rule, ...] = (_start_after_end, _unknown_business, _accept_without_json, _unknown_client)


def assert_accepted(case: schemathesis.Case, response: schemathesis.Response) -> None:
    """Schema-valid data gets a 2xx, or an error every detail of which is a tolerated rejection."""
    if fuzzing.accepted(case, response):
        return
    details = orjson.loads(response.content).get("details") or []
    unexplained = [d for d in details if not any(rule(case, response.status_code, d) for rule in TOLERATED_REJECTIONS)]
    assert details and not unexplained, f"{fuzzing.sent(response)}: valid data answered {response.status_code} {response.text}"


@positive.parametrize()
def test_treasure_positive_data(case: schemathesis.Case, treasure_url: str, session: requests.Session) -> None:
    response = case.call_and_validate(base_url=treasure_url, session=session)
    assert_accepted(case, response)


@negative.parametrize()
def test_treasure_negative_data(case: schemathesis.Case, treasure_url: str, session: requests.Session) -> None:
    fuzzing.assert_not_a_server_error(case.call_and_validate(base_url=treasure_url, session=session))


def test_treasure_stateful_token_flow(treasure_url: str, session: requests.Session) -> None:
    issued: set[str] = set()

    class Workflow(fuzzing.state_machine(stateful, treasure_url, session)):  # type: ignore[misc]
        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: Any) -> None:
            super().validate_response(response, case, **kwargs)
            request = fuzzing.sent(response)
            if case.operation.path == "/v1/oauth/token":
                assert response.status_code == 200, f"{request}: the sandbox client got {response.status_code} {response.text}"
                issued.add(orjson.loads(response.content)["access_token"])
            elif (case.headers or {}).get("Authorization", "").removeprefix("Bearer ") in issued:
                # an issued token is accepted; what the request asks may still be refused
                assert response.status_code != 401, f"{request}: an issued token refused: {response.text}"
                assert_accepted(case, response)

    Workflow.run(settings=fuzzing.stateful_settings(max_examples=10, steps=4))
    assert issued, "no token was issued"


test_required_checks_are_enabled = fuzzing.required_checks_test(REQUIRED_CHECKS, positive=positive, negative=negative, stateful=stateful)
