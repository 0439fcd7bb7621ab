"""Property-based conformance of the Omniex mock against specs/omniex.yaml, with signed requests.

Every generated request is signed as the Omniex reference describes (a schemathesis auth
provider computes the HMAC-SHA384 over the final method, path and timestamp), so that the
run reaches validation and the handlers. Bounded and deterministic, like test_schemathesis.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis

from . import fuzzing
from .helpers import ROOT, running_server
from .test_omniex import signed

OMNIEX_SPEC = ROOT / "specs" / "omniex.yaml"
MOUNT = "/omniex/edge/v1beta"


def load_schema(mode: str) -> Any:
    schema = fuzzing.load_schema(OMNIEX_SPEC, mode, 60)

    @schema.auth(refresh_interval=None)
    class OmniexSignature:
        def get(self, case: schemathesis.Case, context: Any) -> str:
            return "sign"

        def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), **signed(case.method, MOUNT + case.formatted_path)}

    return schema


positive = load_schema("positive")
negative = load_schema("negative")


@pytest.fixture(scope="module")
def omniex_url() -> Iterator[str]:
    # a wide window: schemathesis may sign an example well before it sends it; the window
    # itself is tested in test_omniex.py
    with running_server("--signature-window", "86400") as url:
        yield url + MOUNT


@positive.parametrize()
def test_omniex_positive_data(case: schemathesis.Case, omniex_url: str, session: requests.Session) -> None:
    response = case.call_and_validate(base_url=omniex_url, session=session)
    request = f"{response.request.method} {response.request.url}"
    if case.path == "/portfolios/{id}":
        assert response.status_code in (200, 404), f"{request}: {response.status_code} {response.text}"
    else:
        assert response.status_code == 200, f"{request}: {response.status_code} {response.text}"


@negative.parametrize()
def test_omniex_negative_data(case: schemathesis.Case, omniex_url: str, session: requests.Session) -> None:
    response = case.call_and_validate(base_url=omniex_url, session=session)
    assert response.status_code < 500, f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
