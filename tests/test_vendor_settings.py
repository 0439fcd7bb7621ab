"""A vendor's own settings: declared by the vendor with their defaults, set from the settings file,
the environment or `--vendor-setting`, resolved once when its API is loaded, read by its handlers
as `call.settings` (bitcain's per-user limits are the bundled example)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mockserver.app import load
from mockserver.errors import LoadError
from mockserver.settings import SettingsError, load_settings

from .helpers import ROOT, MakeClient

BITCAIN = "/bitcain/api/v1/portfolio"
AUTH = {"Authorization": "Bearer mock-bitcain-token"}


async def create(client: TestClient, name: str) -> aiohttp.ClientResponse:
    body = {"name": name, "target_allocations": {"BTC": 1}, "initial_value_usd": "100"}
    return await client.post(f"{BITCAIN}/", params={"user_id": "settings-user"}, json=body, headers=AUTH)


def bitcain_settings(**cli: object) -> dict[str, object]:
    [bitcain] = [api for api in load(load_settings(cli, environ={}))[0] if api.name == "bitcain"]
    return bitcain.vendor_settings  # type: ignore[attr-defined]


def test_a_vendor_declares_its_settings_with_their_defaults() -> None:
    assert bitcain_settings() == {"max_portfolios_per_user": 500, "max_ledger_entries_per_user": 20_000}


async def test_the_vendor_setting_flag_reaches_the_handlers(make_client: MakeClient) -> None:
    client = await make_client(vendors=["bitcain.max_portfolios_per_user=2"])
    assert [(await create(client, f"p{index}")).status for index in range(2)] == [201, 201]
    refused = await create(client, "p2")
    assert refused.status == 409
    assert await refused.json() == {"detail": "A user may have at most 2 portfolios; delete one first"}


def test_a_vendor_setting_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "mockserver.yaml"
    config.write_text("vendors:\n  bitcain:\n    max_ledger_entries_per_user: 7\n")
    assert bitcain_settings(config=config)["max_ledger_entries_per_user"] == 7
    environ = {"MOCKSERVER_VENDORS": json.dumps({"bitcain": {"max_portfolios_per_user": "9"}})}
    [bitcain] = [api for api in load(load_settings({}, environ=environ))[0] if api.name == "bitcain"]
    assert bitcain.vendor_settings["max_portfolios_per_user"] == 9  # type: ignore[attr-defined]


def test_the_vendors_section_wins_over_the_top_level_name() -> None:
    chosen = bitcain_settings(max_portfolios_per_user=4, vendors=["bitcain.max_portfolios_per_user=3"])
    assert chosen["max_portfolios_per_user"] == 3
    assert bitcain_settings(max_portfolios_per_user=4)["max_portfolios_per_user"] == 4


@pytest.mark.parametrize(
    ("given", "words"),
    [
        (
            ["bitcain.max_portfolio=3"],
            "no vendor setting 'max_portfolio' (its settings: max_ledger_entries_per_user, max_portfolios_per_user)",
        ),
        (["bitcain.max_portfolios_per_user=many"], "vendor setting 'max_portfolios_per_user' must be int, got 'many'"),
        (["mesh.anything=1"], "no vendor setting 'anything' (its settings: none)"),
    ],
)
def test_a_wrong_vendor_setting_stops_the_start(given: list[str], words: str) -> None:
    with pytest.raises(LoadError) as raised:
        load(load_settings({"vendors": given}, environ={}))
    assert words in str(raised.value)


def test_a_vendor_setting_not_written_as_api_name_value_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"vendor settings are given as api\.setting=value"):
        load_settings({"vendors": ["max_portfolios_per_user=3"]}, environ={})


def test_the_command_line_refuses_an_unknown_vendor_setting_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "check", "--vendor-setting", "bitcain.nope=1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no vendor setting 'nope'" in done.stderr
