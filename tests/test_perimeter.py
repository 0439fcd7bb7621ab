"""The perimeter of the control API over real HTTP: no CORS, JSON-only writes, loopback or allowed
Hosts, odd bytes in its headers; the liveness route outside it; the container that probes it."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestClient

from .helpers import JSON, MESH_AUTH, PORTFOLIO, ROOT, MakeClient, running_server
from .raw_http import RawResponse, exchange, http_request

TOKEN = "perimeter-control-token"
ATTACKER = "http://attacker.example"
CONTROL_READS = ["/__mock/apis", "/__mock/requests", "/__mock/faults", "/__mock/health", "/__mock/", "/__mock/nothing-here"]
CONTROL_WRITES = [("POST", "/__mock/reset"), ("POST", "/__mock/faults"), ("POST", "/__mock/requests/count"), ("DELETE", "/__mock/requests")]
CONTROL_WRITES += [("DELETE", "/__mock/faults")]
FOREIGN_HOSTS = ["attacker.example", "attacker.example:8080", "127.0.0.1.nip.io", "localhost.attacker.example", "10.0.0.7", "[::2]:80"]
FOREIGN_HOSTS += ["0.0.0.0", "", "[::1", "localhost:80:80"]
LOOPBACK_HOSTS = ["localhost", "LOCALHOST:8080", "app.localhost", "localhost.", "127.0.0.1", "127.8.9.10:1", "[::1]", "[::1]:8080"]


def assert_problem(status: int, response_status: int, content_type: str, body: bytes) -> dict[str, Any]:
    assert response_status == status, body
    assert content_type == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status and problem["detail"]
    return problem


async def problem_of(response: Any, status: int) -> dict[str, Any]:
    return assert_problem(status, response.status, response.headers["Content-Type"], await response.read())


def raw_problem(response: RawResponse, status: int) -> dict[str, Any]:
    return assert_problem(status, response.status, response.content_type, response.body)


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]


async def journal_total(client: TestClient) -> int:
    return int((await (await client.get("/__mock/requests")).json())["total"])


# --- no CORS on control routes, none for vendor routes lost ---


@pytest.mark.parametrize("path", CONTROL_READS)
async def test_control_routes_answer_no_cors(client: TestClient, path: str) -> None:
    response = await client.get(path, headers={"Origin": ATTACKER})
    assert response.status in (200, 404)
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


@pytest.mark.parametrize(("method", "path"), CONTROL_WRITES)
async def test_no_preflight_to_a_control_write_succeeds(client: TestClient, method: str, path: str) -> None:
    preflight = {"Origin": ATTACKER, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"}
    response = await client.options(path, headers=preflight)
    assert not 200 <= response.status < 300
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


async def test_vendor_routes_keep_their_cors(client: TestClient) -> None:
    response = await client.get(
        PORTFOLIO, params={"UserId": "alice"}, headers={**MESH_AUTH, "Origin": ATTACKER, "Host": "attacker.example"}
    )
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == ATTACKER


# --- control writes only as JSON ---


@pytest.mark.parametrize(("method", "path"), CONTROL_WRITES)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
async def test_a_control_write_that_is_not_json_is_415_and_does_nothing(
    client: TestClient, method: str, path: str, content_type: str | None
) -> None:
    await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"api": "mesh", "status": 503}' if content_type else None  # a body, or none at all (then no Content-Type)
    problem = await problem_of(await client.request(method, path, data=body, headers=headers), 415)
    assert "Content-Type: application/json" in problem["detail"]
    assert await journal_total(client) == 1  # neither cleared nor reset
    assert (await (await client.get("/__mock/faults")).json())["faults"] == []


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
async def test_a_control_write_in_json_is_done(client: TestClient, content_type: str) -> None:
    await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    response = await client.post("/__mock/reset", headers={"Content-Type": content_type})
    assert response.status == 200
    assert await journal_total(client) == 0


# --- the Host: loopback, or allowed ---


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
async def test_a_foreign_host_is_403_on_every_control_route_and_the_page(client: TestClient, host: str) -> None:
    await client.get(PORTFOLIO, params={"UserId": "alice"}, headers=MESH_AUTH)
    for path in CONTROL_READS:
        problem = await problem_of(await client.get(path, headers={"Host": host}), 403)
        assert "allowed_hosts" in problem["detail"]
    for method, path in CONTROL_WRITES:
        await problem_of(await client.request(method, path, json={}, headers={"Host": host}), 403)
    assert await journal_total(client) == 1


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
async def test_loopback_hosts_are_served(client: TestClient, host: str) -> None:
    assert (await client.get("/__mock/apis", headers={"Host": host})).status == 200
    assert (await client.post("/__mock/reset", headers={"Host": host, **JSON})).status == 200


async def test_allowed_hosts_are_served_whatever_their_case_and_port(make_client: MakeClient) -> None:
    client = await make_client(allowed_hosts=["mock.internal", "Other.Example:9000"])
    for host in ("mock.internal", "MOCK.internal:8080", "other.example", "other.example:1"):
        assert (await client.get("/__mock/apis", headers={"Host": host})).status == 200, host
    await problem_of(await client.get("/__mock/apis", headers={"Host": "internal"}), 403)


async def test_the_host_is_checked_before_the_token(make_client: MakeClient) -> None:
    client = await make_client(control_token=TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    await problem_of(await client.get("/__mock/apis", headers={"Host": "attacker.example", **bearer}), 403)
    await problem_of(await client.get("/__mock/apis"), 401)
    assert (await client.get("/__mock/apis", headers=bearer)).status == 200


async def test_a_request_without_host_is_403(client: TestClient) -> None:
    response = await exchange(client.port, b"GET /__mock/apis HTTP/1.0\r\n\r\n")
    assert "no Host header" in raw_problem(response, 403)["detail"]


# --- odd bytes in the headers the perimeter reads ---


async def test_a_bearer_token_that_is_not_utf8_is_401(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    client = await make_client(control_token=TOKEN)
    for value in (b"Bearer \xff", b"Bearer \xc3(" + TOKEN.encode(), b"\xff " + TOKEN.encode()):
        response = await exchange(client.port, http_request("GET", b"/__mock/apis", [(b"Authorization", value)]))
        assert raw_problem(response, 401)["violations"][0]["name"] == "Authorization"
    no_traceback(caplog)


async def test_a_control_token_beyond_ascii_is_compared_as_utf8(make_client: MakeClient) -> None:
    token = "clé-de-contrôle-42"
    client = await make_client(control_token=token)
    granted = await exchange(client.port, http_request("GET", b"/__mock/apis", [(b"Authorization", b"Bearer " + token.encode())]))
    assert granted.status == 200
    latin1 = await exchange(client.port, http_request("GET", b"/__mock/apis", [(b"Authorization", b"Bearer " + token.encode("latin-1"))]))
    raw_problem(latin1, 401)


async def test_odd_bytes_in_host_and_content_type_are_4xx(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    host = await exchange(client.port, b"GET /__mock/apis HTTP/1.1\r\nHost: \xff.localhost\r\nConnection: close\r\n\r\n")
    assert "\\udcff" in raw_problem(host, 403)["detail"]  # quoted, escaped
    for content_type in (b"application/json\xff", b"\xff", b"application/\xffjson"):
        response = await exchange(client.port, http_request("POST", b"/__mock/reset", [(b"Content-Type", content_type)]))
        raw_problem(response, 415)
    with_parameter = await exchange(client.port, http_request("POST", b"/__mock/reset", [(b"Content-Type", b"application/json; x=\xff")]))
    assert with_parameter.status == 200  # the media type is JSON; its parameters are not read
    no_traceback(caplog)


# --- liveness, outside the perimeter ---


async def test_liveness_needs_no_token_answers_any_host_and_tells_nothing(make_client: MakeClient) -> None:
    client = await make_client(control_token=TOKEN)
    for host in ("attacker.example", "mockserver:8080", "localhost"):
        response = await client.get("/__mock/live", headers={"Host": host, "Origin": ATTACKER})
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
        assert not [name for name in response.headers if name.lower().startswith("access-control-")]
    assert (await client.head("/__mock/live")).status == 200
    await problem_of(await client.get("/__mock/health"), 401)  # health names APIs and the process: inside


# --- the container ---


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of each Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(word.upper(), rest.strip()) for word, _, rest in (line.partition(" ") for line in lines)]


def instruction(name: str) -> list[str]:
    return [rest for word, rest in dockerfile() if word == name]


def test_the_image_takes_its_settings_from_the_environment() -> None:
    env = " ".join(instruction("ENV"))
    assert "MOCKSERVER_HOST=0.0.0.0" in env.split() and "MOCKSERVER_PORT=8080" in env.split()
    assert [json.loads(rest) for rest in instruction("ENTRYPOINT")] == [["mockserver"]]
    assert [json.loads(rest) for rest in instruction("CMD")] == [["serve"]]  # no flag that would override the environment


def test_the_image_installs_the_dependencies_before_copying_the_sources() -> None:
    steps = dockerfile()

    def first(word: str, needle: str) -> int:
        return next(index for index, step in enumerate(steps) if step[0] == word and needle in step[1])

    dependencies = first("RUN", "pip install --no-cache-dir -r requirements.txt")
    assert (
        first("COPY", "pyproject.toml")
        < dependencies
        < first("COPY", "mockserver")
        < first("RUN", "pip install --no-cache-dir --no-deps .")
    )
    assert [rest for word, rest in steps[:dependencies] if word == "COPY"] == ["pyproject.toml ./"]  # nothing else the layer depends on


def healthcheck_command() -> list[str]:
    (check,) = instruction("HEALTHCHECK")
    return list(json.loads(check.partition(" CMD ")[2]))


def test_the_health_check_passes_with_a_control_token_on_the_port_of_the_environment() -> None:
    env = {"MOCKSERVER_CONTROL_TOKEN": TOKEN}
    with running_server("--quiet", env=env) as base:
        port = base.rsplit(":", 1)[1]
        command = healthcheck_command()
        probe = subprocess.run(command, env={**os.environ, "MOCKSERVER_PORT": port}, capture_output=True, timeout=30, check=False)
        assert probe.returncode == 0, probe.stderr
        elsewhere = subprocess.run(
            command, env={**os.environ, "MOCKSERVER_PORT": str(closed_port())}, capture_output=True, timeout=30, check=False
        )
        assert elsewhere.returncode != 0  # the check does fail when nothing answers
        foreign = requests.get(f"{base}/__mock/live", headers={"Host": "mockserver.internal:8080"}, timeout=10)
        assert (foreign.status_code, foreign.json()) == (200, {"status": "ok"})
        assert requests.get(f"{base}/__mock/health", headers={"Host": "mockserver.internal:8080"}, timeout=10).status_code == 403


def closed_port() -> int:
    """A loopback port nothing listens on (one the kernel just handed out and took back)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
