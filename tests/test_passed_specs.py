"""A description that passed the OpenAPI check is not checked again until its bytes change."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import pytest
from openapi_core import OpenAPI

from mockserver.app import load
from mockserver.cli import main
from mockserver.errors import LoadError
from mockserver.settings import load_settings

from .helpers import ROOT


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """An empty verdict folder, and the titles of the documents openapi-core checks from here on."""
    monkeypatch.setenv("MOCKSERVER_CACHE_DIR", str(tmp_path / "cache"))
    seen: list[str] = []
    real = OpenAPI.from_dict.__func__  # type: ignore[attr-defined]

    @functools.wraps(real)
    def counting(cls: Any, document: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        seen.append(document["info"]["title"])
        return real(cls, document, *args, **kwargs)

    monkeypatch.setattr(OpenAPI, "from_dict", classmethod(counting))
    return seen


def specs_copy(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "specs"
    folder.mkdir()
    for name in names:
        shutil.copy(ROOT / "specs" / name, folder / name)
    return folder


def test_a_passing_description_is_checked_once(checks: list[str], tmp_path: Path) -> None:
    settings = load_settings({"specs": [specs_copy(tmp_path, "mesh.yaml", "omniex.yaml")]}, environ={})
    load(settings)
    assert len(checks) == 2
    apis, _ = load(settings)
    assert len(checks) == 2 and [api.name for api in apis] == ["mesh", "omniex"]
    assert len(list((tmp_path / "cache" / "openapi-passed").iterdir())) == 2


def test_a_changed_description_is_checked_again(checks: list[str], tmp_path: Path) -> None:
    folder = specs_copy(tmp_path, "mesh.yaml")
    settings = load_settings({"specs": [folder]}, environ={})
    load(settings)
    spec = folder / "mesh.yaml"
    spec.write_text(spec.read_text() + "\n# changed\n")
    load(settings)
    assert len(checks) == 2


def test_a_failing_description_is_refused_every_time(checks: list[str], tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "broken.yaml").write_text("openapi: 3.0.0\ninfo: {title: broken}\npaths: {}\n")
    settings = load_settings({"specs": [folder]}, environ={})
    for _ in range(2):
        with pytest.raises(LoadError, match="not a valid OpenAPI document"):
            load(settings)
    assert checks == ["broken", "broken"]
    assert not (tmp_path / "cache" / "openapi-passed").exists()


def test_check_command_always_checks(checks: list[str], tmp_path: Path) -> None:
    folder = specs_copy(tmp_path, "mesh.yaml")
    load(load_settings({"specs": [folder]}, environ={}))
    assert main(["check", "--specs", str(folder)]) == 0
    assert len(checks) == 2


def test_an_unwritable_verdict_folder_is_not_used(checks: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MOCKSERVER_CACHE_DIR", str(blocker))
    settings = load_settings({"specs": [specs_copy(tmp_path, "mesh.yaml")]}, environ={})
    load(settings)
    load(settings)
    assert len(checks) == 2
