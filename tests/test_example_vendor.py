"""A sixth API is a spec file plus one vendor folder: tests/example_vendor (the Notes API, signed
with HMAC-SHA256, one stateful resource) is copied to a temporary folder and served from there,
with no change to any module of mockserver."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from .example_vendor.vendors.notes.signature import sign
from .helpers import ROOT, MakeClient

EXAMPLE = Path(__file__).parent / "example_vendor"
NOTES = "/notes/v1/notes"


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    """The example's spec and vendor folder, copied where nothing of the project is."""
    folder = tmp_path / "specs"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def signed(method: str, path: str, body: bytes = b"", secret: bytes = b"notes-secret", key: str = "notes-key") -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {"X-Notes-Key": key, "X-Notes-Timestamp": timestamp, "X-Notes-Signature": sign(secret, method, path, timestamp, body)}


async def send(client: TestClient, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
    headers = {**signed(method, path, body), **({"Content-Type": "application/json"} if body else {})}
    response = await client.request(method, path, data=body or None, headers=headers)
    return response.status, await response.json()


async def test_the_example_api_is_served_from_its_folder(make_client: MakeClient, specs: Path) -> None:
    client = await make_client(specs=[specs])
    assert await send(client, "GET", NOTES) == (200, [])
    assert await send(client, "POST", NOTES, b'{"text": "first"}') == (201, {"id": "note-1", "text": "first"})
    assert await send(client, "POST", NOTES, b'{"text": "second"}') == (201, {"id": "note-2", "text": "second"})
    assert await send(client, "GET", f"{NOTES}/note-1") == (200, {"id": "note-1", "text": "first"})
    assert await send(client, "GET", NOTES) == (200, [{"id": "note-1", "text": "first"}, {"id": "note-2", "text": "second"}])
    assert await send(client, "GET", f"{NOTES}/note-9") == (404, {"error": {"code": "not_found", "message": "no such note"}})
    status, _ = await send(client, "DELETE", f"{NOTES}/note-1")
    assert status == 405  # not an operation of the spec: the API's own catch-all


async def test_its_rules_answer_in_its_own_envelope(make_client: MakeClient, specs: Path) -> None:
    client = await make_client(specs=[specs])
    unsigned = await client.get(NOTES)
    assert unsigned.status == 401
    assert (await unsigned.json())["error"]["code"] == "unauthorized"
    forged = await client.get(NOTES, headers=signed("GET", NOTES, secret=b"guessed"))
    assert forged.status == 401
    assert (await forged.json())["error"]["message"] == "X-Notes-Signature does not match the request"
    status, payload = await send(client, "POST", NOTES, b'{"text": ""}')
    assert status == 400 and payload["error"]["code"] == "invalid_request"
    assert payload["error"]["details"] == [{"field": "/text", "message": '"" is shorter than 1 character'}]


async def test_its_own_setting_from_the_spec_and_from_the_settings(make_client: MakeClient, specs: Path) -> None:
    client = await make_client(specs=[specs])  # the spec's x-mock.settings: max_notes 3 (the vendor's default is 10)
    statuses = [(await send(client, "POST", NOTES, b'{"text": "n"}'))[0] for _ in range(4)]
    assert statuses == [201, 201, 201, 409]
    one = await make_client(specs=[specs], vendors=["notes.max_notes=1"])
    assert [(await send(one, "POST", NOTES, b'{"text": "n"}'))[0] for _ in range(2)] == [201, 409]


async def test_reset_empties_its_state(make_client: MakeClient, specs: Path) -> None:
    client = await make_client(specs=[specs])
    await send(client, "POST", NOTES, b'{"text": "kept until a reset"}')
    assert (await client.post("/__mock/reset", json={})).status == 200
    assert await send(client, "GET", NOTES) == (200, [])


def test_the_command_line_lists_its_routes(specs: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "routes", "--specs", str(specs)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert [line.split() for line in done.stdout.splitlines()] == [
        ["GET", NOTES, "(notes:", "listNotes)"],
        ["POST", NOTES, "(notes:", "createNote)"],
        ["GET", f"{NOTES}/{{note_id}}", "(notes:", "getNote)"],
    ]
