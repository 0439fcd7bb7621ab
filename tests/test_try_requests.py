"""The example requests of /__mock/apis (the dashboard's curl lines and "Try it"): every curl text runs
verbatim in bash against a real server and answers 2xx, in the default sandbox and in a session."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestClient

from mockserver.try_requests import shell_quote

from .helpers import MakeClient, running_server

BASH_TIMEOUT = 30


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as base:
        yield base


def _operations(control: str) -> list[tuple[str, dict[str, Any]]]:
    apis = requests.get(f"{control}/__mock/apis", timeout=10).json()["apis"]
    return [(api["name"], operation) for api in apis for operation in api["operations"]]


def _run_every_line(control: str) -> list[str]:
    """Each example's curl text through bash, in the listed order; what did not answer 2xx, as the
    journal of `control`'s sandbox recorded it."""
    failed = []
    for name, operation in _operations(control):
        example = operation["example"]
        assert example["unfilled"] == [] and example["configured"] is False, (name, operation["operation"], example)
        ran = subprocess.run(["bash", "-c", example["curl"]], capture_output=True, text=True, timeout=BASH_TIMEOUT)
        assert ran.returncode == 0, (example["curl"], ran.stderr)
        newest = requests.get(f"{control}/__mock/requests", params={"limit": "1"}, timeout=10).json()["requests"][0]
        assert (newest["api"], newest["method"]) == (name, operation["method"])
        if not 200 <= newest["status"] < 300:
            failed.append(
                f"{newest['status']} {name} {operation['method']} {operation['operation']}: {example['curl']}\n{ran.stdout[:500]}"
            )
    return failed


def test_every_curl_line_answers_2xx_as_shown(server: str) -> None:
    operations = _operations(server)
    assert {name for name, _ in operations} == {"bitcain", "bitpanda", "mesh", "omniex", "treasure"}
    assert _run_every_line(server) == []


def test_every_curl_line_answers_2xx_in_a_session_with_its_prefix(server: str) -> None:
    assert requests.post(f"{server}/__mock/sessions", json={"id": "curl-lines"}, timeout=10).status_code == 201
    session = f"{server}/__session/curl-lines"
    for _, operation in _operations(session):
        assert operation["example"]["url"].startswith(session + "/"), operation["example"]["url"]
    assert _run_every_line(session) == []
    assert requests.get(f"{session}/__mock/requests", timeout=10).json()["total"] == len(_operations(session))


def test_the_examples_fill_ids_parameters_bodies_and_a_real_graphql_query(server: str) -> None:
    examples = {(name, op["method"], op["operation"]): op["example"] for name, op in _operations(server)}
    assert "{" not in "".join(example["url"] for example in examples.values())  # no path variable left as a template
    listing = examples["bitcain", "GET", "list_portfolios"]
    assert "user_id=a169451c-8525-4352-b8ca-070dd449a1a5" in listing["url"]
    assert "start_date=2022-01-01&end_date=2023-02-01" in examples["treasure", "GET", "getPortfolioHistory"]["url"]
    graphql = examples["bitpanda", "POST", "graphql"]
    assert "portfolio" in graphql["body"] and "__typename" not in graphql["body"]
    assert graphql["headers"] == {"x-api-key": "mock-api-key", "Content-Type": "application/json"}
    signed = examples["omniex", "GET", "getPortfolio"]
    assert signed["signing"]["digest"] == "sha384" and signed["signing"]["key"] == "mock-onx-key"
    assert signed["url"].endswith("/portfolios/6b372483-a80f-4c32-8d23-e6b9397ee6d6")
    assert "openssl dgst -sha384 -hmac 'mock-onx-secret'" in signed["curl"]
    assert "Authorization" not in examples["treasure", "POST", "createAccessToken"]["headers"]  # it takes no credentials


async def test_credentials_from_settings_make_examples_that_say_they_need_the_users_values(make_client: MakeClient) -> None:
    configured = {
        "mesh": [{"Client-Id": "configured-id", "Client-Secret": "configured-secret"}],
        "omniex": [{"key": "my-key", "secret": "my-secret"}],
    }
    client: TestClient = await make_client(credentials=configured)
    body = await (await client.get("/__mock/apis")).json()
    apis = {api["name"]: api for api in body["apis"]}
    example = apis["mesh"]["operations"][0]["example"]
    assert example["configured"] is True
    assert example["headers"]["X-Client-Secret"] == "<configured>"
    signed = apis["omniex"]["operations"][0]["example"]
    assert signed["configured"] is True and signed["signing"]["secret"] == signed["signing"]["key"] == "<configured>"
    assert "-hmac '<configured>'" in signed["curl"]
    assert all(value not in str(body) for value in ("configured-secret", "configured-id", "my-key", "my-secret"))


@pytest.mark.parametrize("text", ["plain", "it's", "a\nb", "tab\there", "\r\n--boundary\r\n"])
def test_shell_quote_gives_bash_back_the_same_text(text: str) -> None:
    assert subprocess.run(["bash", "-c", f"printf %s {shell_quote(text)}"], capture_output=True).stdout.decode() == text
