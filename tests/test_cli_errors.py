"""What keeps `mockserver serve` from starting is one line on stderr (`mockserver: ...`) and exit
code 2, never a traceback: a busy port, a port or host that cannot be, specs folders with no API,
a --state file that is damaged or cannot be created. And a server anyone on the network can
reach without a control token says so when it starts. Every case is a real `serve` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .helpers import ROOT, bitcain_only, running_server
from .state_files import CORRUPT

TOKEN = "control-token-for-tests"


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bitcain_only(tmp_path_factory.mktemp("specs"))


def refusal(*args: str, env: dict[str, str] | None = None) -> str:
    """Run `mockserver serve ARGS`: it must exit 2 with nothing on stdout and one line on stderr; that line."""
    command = [sys.executable, "-m", "mockserver.cli", "serve", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}, cwd=ROOT)
    lines = result.stderr.splitlines()
    assert (result.returncode, result.stdout, len(lines)) == (2, "", 1), result.stderr
    assert lines[0].startswith("mockserver: ") and "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--port", "-5"], {}, "mockserver: port must be within 0..65535 (0 picks a free one), got -5"),
        (["--port", "99999"], {}, "mockserver: port must be within 0..65535 (0 picks a free one), got 99999"),
        ([], {"MOCKSERVER_PORT": "70000"}, "mockserver: port must be within 0..65535 (0 picks a free one), got 70000"),
        (["--port", "0", "--host", "999.1.1.1"], {}, "mockserver: host: '999.1.1.1' is not a valid IP address"),
        (["--port", "0", "--host", "no-such-host.invalid"], {}, "is neither an IP address nor a name that resolves"),
    ],
)
def test_a_port_or_host_that_cannot_be_is_one_line(args: list[str], env: dict[str, str], said: str) -> None:
    assert said in refusal(*args, env=env)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_one_line(busy_port: int, specs: Path, workers: str) -> None:
    line = refusal("--port", str(busy_port), "--specs", str(specs), "--workers", workers)
    assert f"{busy_port}" in line and "in use" in line


def test_an_address_this_machine_does_not_have_is_one_line(specs: Path) -> None:
    line = refusal("--port", "0", "--host", "192.0.2.1", "--control-token", TOKEN, "--specs", str(specs))  # TEST-NET-1
    assert "192.0.2.1" in line and "assign requested address" in line


def test_specs_folders_without_an_api_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("no API here\n")
    line = refusal("--port", "0", "--specs", str(tmp_path))
    assert (
        line
        == f"mockserver: {tmp_path}: no API description in it (files ending in .yaml, .yml, .json, .graphql, .graphqls); nothing to serve"
    )


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("kind", CORRUPT)
def test_an_unusable_state_file_is_one_line(tmp_path: Path, specs: Path, kind: str, workers: str) -> None:
    """A damaged file used to start and then answer 500 on every bitcain call; the others were tracebacks."""
    state = tmp_path / ("missing/state.sqlite" if kind == "in a missing folder" else "state.sqlite")
    make, message = CORRUPT[kind]
    make(state)
    line = refusal("--port", "0", "--state", str(state), "--specs", str(specs), "--workers", workers)
    assert line.startswith(f"mockserver: {state}: ") and message in line


WARNING = "warning: listening on {} without a control token"


@pytest.mark.parametrize(
    ("args", "warned"),
    [
        (["--host", "0.0.0.0"], "0.0.0.0"),
        (["--host", ""], "every interface"),
        (["--host", "0.0.0.0", "--control-token", TOKEN], None),
        (["--host", "127.0.0.1"], None),
        (["--host", "localhost"], None),
    ],
)
def test_a_server_others_can_reach_without_a_control_token_warns_at_start(
    tmp_path: Path, specs: Path, args: list[str], warned: str | None
) -> None:
    log = tmp_path / "server.log"
    with running_server("--specs", str(specs), *args, log_path=log) as base:
        assert requests.get(f"{base}/bitcain/api/v1/portfolio/health", timeout=10).status_code == 200
        printed = log.read_text()
    if warned is None:
        assert "warning" not in printed
        return
    line = next(line for line in printed.splitlines() if WARNING.format(warned) in line)
    assert line.startswith("mockserver: ") and "--control-token" in line and "--allowed-host" in line and "/__mock" in line
