"""`mockserver serve | check | routes` as a user runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from mockserver.cli import main
from mockserver.interfaces import reachable_urls

from .helpers import MESH_AUTH, PORTFOLIO, ROOT, TEST_SPECS, running_server


def test_check_passes_on_the_bundled_specs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "ok    mesh: 1 operations, 2 fixtures" in out
    assert "0 problems" in out


def test_check_with_own_specs_ignores_the_bundled_fixtures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--specs", str(TEST_SPECS)]) == 0


def test_check_reports_request_examples_that_break_their_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things": {
                "post": {
                    "parameters": [{"name": "n", "in": "query", "schema": {"type": "integer"}, "example": "abc"}],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                                "examples": {"bad": {"value": {"a": 1}}},
                            }
                        }
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    (tmp_path / "things.yaml").write_text(yaml.safe_dump(spec))
    assert main(["check", "--specs", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "POST /things parameter 'n' example 'example'" in out
    assert "POST /things request body application/json example 'bad'" in out


def test_check_passes_on_the_test_specs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--specs", str(TEST_SPECS), "--fixtures", str(TEST_SPECS / "fixtures")]) == 0


def broken_fixtures(tmp_path: Path, entry: dict[str, object]) -> Path:
    folder = tmp_path / "fixtures" / "mesh"
    folder.mkdir(parents=True)
    (folder / "bad.yaml").write_text(yaml.safe_dump([entry]))
    return tmp_path / "fixtures"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {
                "name": "wrong-type",
                "operation": "GET /api/v1/holdings/portfolio",
                "match": {"query": {"UserId": "x"}},
                "response": {"status": 200, "body": {"status": "ok", "content": {"equitiesValue": "lots"}}},
            },
            "response body at /content/equitiesValue",
        ),
        (
            {"name": "unknown-field", "operation": "GET /api/v1/holdings/portfolio", "response": {"status": 200, "body": {"surprise": 1}}},
            "response body at /",
        ),
        ({"name": "no-op", "operation": "GET /nowhere", "response": {"status": 200}}, "no operation 'GET /nowhere'"),
        ({"name": "no-example", "operation": "GET /api/v1/holdings/portfolio", "response": {"example": "Nope"}}, "has no example 'Nope'"),
        (
            {
                "name": "bad-match",
                "operation": "GET /api/v1/holdings/portfolio",
                "match": {"query": {"Colour": "x"}},
                "response": {"status": 200},
            },
            "match.query.Colour is not a parameter",
        ),
        ({"name": "no-status", "operation": "GET /api/v1/holdings/portfolio", "response": {"status": 418}}, "documents no 418 response"),
    ],
)
def test_check_fails_on_a_fixture_that_breaks_its_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: dict[str, object], message: str
) -> None:
    fixtures = broken_fixtures(tmp_path, entry)
    assert main(["check", "--fixtures", str(fixtures)]) == 1
    out = capsys.readouterr().out
    assert "ERROR" in out and "bad.yaml[0]" in out and entry["name"] in out
    assert message in out


def test_check_reports_a_spec_example_that_breaks_its_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = yaml.safe_load((ROOT / "specs" / "mesh.yaml").read_text())
    examples = spec["paths"]["/api/v1/holdings/portfolio"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    examples["CEX example"]["value"]["status"] = "fine"
    (tmp_path / "mesh.yaml").write_text(yaml.safe_dump(spec))
    assert main(["check", "--specs", str(tmp_path), "--fixtures", str(ROOT / "fixtures")]) == 1
    assert "WARN" in capsys.readouterr().out


def test_check_reports_an_invalid_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yaml").write_text("openapi: 3.0.0\ninfo: {title: x}\npaths: {}\n")
    assert main(["check", "--specs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "not a valid OpenAPI document" in err


def test_fixtures_for_an_unknown_api_are_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nobody").mkdir()
    (tmp_path / "nobody" / "x.yaml").write_text("- {name: a, operation: b, response: {}}\n")
    assert main(["check", "--fixtures", str(tmp_path)]) == 1
    assert "no such API is loaded" in capsys.readouterr().out


def test_routes_lists_every_mounted_route(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "--specs", str(ROOT / "specs"), "--specs", str(TEST_SPECS), "--fixtures", str(TEST_SPECS / "fixtures")]) == 0
    out = capsys.readouterr().out
    assert "GET     /mesh/api/v1/holdings/portfolio" in out
    assert "DELETE  /widgets/v2/widgets/{widgetId}  (widgets: deleteWidget)" in out


def test_serve_prints_base_urls_and_credentials_and_answers() -> None:
    with running_server() as base:
        request = urllib.request.Request(f"{base}{PORTFOLIO}?UserId=alice", headers=MESH_AUTH)
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{base}{PORTFOLIO}?UserId=alice")
        assert denied.value.code == 401


def test_serve_banner(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while "health" not in lines[-1] and lines[-1]:
            lines.append(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "listening on http://127.0.0.1:" in lines[0]
    mesh = next(index for index, line in enumerate(lines) if line.split()[:1] == ["mesh"])
    assert lines[mesh].rstrip().endswith("/mesh")
    assert "X-Client-Id: mock-client-id, X-Client-Secret: sk_sand_mock_secret" in lines[mesh + 1]
    assert any(line.split()[:1] == ["bitpanda"] for line in lines) and any("x-api-key: mock-api-key" in line for line in lines)
    base = lines[0].split("listening on ")[1].strip()
    named = {line.split()[0]: line.split()[1:] for line in lines[1:] if line.startswith("  ") and not line.startswith("    ")}
    assert named["dashboard"] == [f"{base}/__mock/"]
    assert named["control"][0] == f"{base}/__mock"
    assert "reachable" not in named  # 127.0.0.1 is the one address
    assert lines[-1].split() == ["health", f"{base}/__mock/health"]
    assert process.returncode == 0  # SIGTERM is a clean stop


def test_the_banner_of_every_interface_lists_where_the_apis_answer() -> None:
    """`--host 0.0.0.0`: each listed address answers the APIs; the control API there only once
    `--allowed-host` names it, as the line says. The control token is never printed."""
    banner: list[str] = []
    token = "banner-token-0123456789"
    with running_server("--host", "0.0.0.0", "--control-token", token, banner=banner) as base:
        text = "".join(banner)
        assert token not in text
        dashboard = next(line for line in banner if line.split()[:1] == ["dashboard"])
        assert dashboard.split()[1:] == [f"{base}/__mock/", "(add", "?token=<control", "token>)"]
        lines = [line for line in banner if line.split()[:1] == ["reachable"]]
        for line in lines:  # none on a machine with no address but loopback
            urls, _, note = line.split(maxsplit=1)[1].partition("  ")
            assert "--allowed-host" in note
            for url in urls.split(", "):
                assert not url.startswith(("http://127.", "http://[::1]"))
                request = urllib.request.Request(f"{url}{PORTFOLIO}?UserId=alice", headers=MESH_AUTH)
                with urllib.request.urlopen(request, timeout=10) as response:
                    assert response.status == 200
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(f"{url}/__mock/health", timeout=10)
                assert refused.value.code == 403


def test_reachable_addresses_are_listed_for_wildcards_only() -> None:
    assert reachable_urls("127.0.0.1", 8080) == []
    assert reachable_urls("localhost", 8080) == []
    assert all(url.startswith("http://[") for url in reachable_urls("::", 8080))  # asyncio binds :: to IPv6 alone
    assert not any(url.startswith("http://[") for url in reachable_urls("0.0.0.0", 8080))
    assert sorted(reachable_urls("", 8080)) == sorted(reachable_urls("0.0.0.0", 8080) + reachable_urls("::", 8080))


def test_configured_secrets_are_not_printed(tmp_path: Path) -> None:
    config = tmp_path / "mockserver.yaml"
    config.write_text(yaml.safe_dump({"credentials": {"mesh": [{"Client-Id": "my-id", "Client-Secret": "very-private"}]}}))
    with running_server("--config", str(config)) as base:
        request = urllib.request.Request(f"{base}{PORTFOLIO}?UserId=a", headers={"X-Client-Id": "my-id", "X-Client-Secret": "very-private"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mockserver.cli import banner; from mockserver.app import load; from mockserver.settings import load_settings;"
            f"print(banner('http://x', load(load_settings({{'config': {str(config)!r}}}))[0]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "very-private" not in result.stdout and "my-id" not in result.stdout
    assert "<configured>" in result.stdout


def test_serve_refuses_broken_fixtures(tmp_path: Path) -> None:
    fixtures = broken_fixtures(tmp_path, {"name": "x", "operation": "GET /nowhere", "response": {}})
    result = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--fixtures", str(fixtures)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "no operation 'GET /nowhere'" in result.stderr


def test_installed_command_works_from_any_directory(tmp_path: Path) -> None:
    executable = shutil.which("mockserver") or str(Path(sys.executable).parent / "mockserver")
    result = subprocess.run([executable, "check"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    mesh" in result.stdout


def test_malformed_http_is_400_and_its_bytes_are_not_logged() -> None:
    import socket

    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /mesh/api/v1/holdings/portfolio HTTP/1.1\r\nHost: x\r\nX-Client-Secret: sk_" + b"s" * 40000 + b"\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.0 400") or sock.recv(64)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "sk_sss" not in err
