"""Finds and loads the API descriptions; gives each API its name, mount prefix and kind."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from .errors import LoadError
from .passed_specs import passed_before, remember_pass

OPENAPI_SUFFIXES = (".yaml", ".yml", ".json")
GRAPHQL_SUFFIXES = (".graphql", ".graphqls")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def bundled_dir(name: str) -> Path:
    """`specs` or `fixtures`: inside the installed package, or at the source checkout's root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "bundled" / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    return here / "bundled" / name


@dataclass(frozen=True)
class ApiDescription:
    name: str  # file stem; the API is mounted under /<name>
    kind: str  # "openapi" or "graphql"
    path: Path
    document: dict[str, Any]  # the OpenAPI document; empty for GraphQL (its SDL is read from `path`)
    prefixed: bool = True  # False on an API's own port: its production paths, with no /<name>

    @cached_property
    def mount(self) -> str:
        """`/<name>` plus the path of the first server URL (`/omniex/edge/v1beta`)."""
        return (f"/{self.name}" if self.prefixed else "") + server_base_path(self.document)

    @property
    def extension(self) -> dict[str, Any]:
        """The mock-specific `x-mock` block of the spec."""
        block = self.document.get("x-mock") or {}
        return block if isinstance(block, dict) else {}


def server_base_path(document: dict[str, Any]) -> str:
    """Path part of the first `servers` URL, with variables replaced by their defaults.

    Only the path matters locally: absolute hosts are ignored so that local requests match.
    """
    servers = document.get("servers") or []
    if not servers or not isinstance(servers[0], dict):
        return ""
    url = str(servers[0].get("url", ""))
    for var, spec in (servers[0].get("variables") or {}).items():
        url = url.replace("{" + var + "}", str((spec or {}).get("default", "")))
    path = urlparse(url).path if "://" in url else url
    return "/" + path.strip("/") if path.strip("/") else ""


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(str(path), f"cannot read: {exc.strerror}") from exc


def read_yaml(path: Path, source: bytes | None = None) -> Any:
    """The YAML (or JSON) document of a file, or of its `source` bytes already read."""
    try:
        return yaml.load((read_bytes(path) if source is None else source).decode("utf-8"), Loader=_LOADER)
    except UnicodeDecodeError as exc:
        raise LoadError(str(path), f"not UTF-8: {exc}") from exc
    except yaml.YAMLError as exc:
        raise LoadError(str(path), f"not valid YAML/JSON: {exc}") from exc


def load_document(path: Path, source: bytes | None = None) -> dict[str, Any]:
    document = read_yaml(path, source)
    if not isinstance(document, dict):
        raise LoadError(str(path), "expected a mapping at the top level")
    return document


def load_document_list(path: Path) -> list[Any]:
    document = read_yaml(path)
    if not isinstance(document, list):
        raise LoadError(str(path), "expected a list of entries at the top level")
    return document


def check_openapi(path: Path, document: dict[str, Any], source: bytes, remembered: bool = True) -> None:
    """Validate the document (parsed from `source`) against the OpenAPI specification (openapi-core is
    the source of truth), unless these exact bytes passed before (see passed_specs.py) and `remembered` allows that."""
    if remembered and passed_before(source):
        return
    from openapi_core import OpenAPI  # imported here: start-up and `check` only, never the hot path
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    try:
        OpenAPI.from_dict(document)
    except OpenAPIValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(root)"
        raise LoadError(str(path), f"not a valid OpenAPI document at {where}: {exc.message}") from exc
    except Exception as exc:  # the validator raises several unrelated types for unusual documents
        raise LoadError(str(path), f"not a valid OpenAPI document: {exc}") from exc
    remember_pass(source)


def discover(spec_dirs: Iterable[Path], remembered: bool = True) -> list[ApiDescription]:
    """Every API description in the given folders, checked (or known to pass); names must be unique."""
    apis: dict[str, ApiDescription] = {}
    for folder in spec_dirs:
        if not folder.is_dir():
            raise LoadError(str(folder), "specs folder does not exist")
        for path in sorted(folder.iterdir()):
            if path.suffix in GRAPHQL_SUFFIXES:
                description = ApiDescription(path.stem, "graphql", path, {})
            elif path.suffix in OPENAPI_SUFFIXES:
                source = read_bytes(path)  # read once: parsed, and the key of the remembered verdict
                document = load_document(path, source)
                if "openapi" not in document:
                    raise LoadError(str(path), "has no `openapi` version field")
                check_openapi(path, document, source, remembered)
                description = ApiDescription(path.stem, "openapi", path, document)
            else:
                continue
            if description.name in apis:
                raise LoadError(str(path), f"API name {description.name!r} is already taken by {apis[description.name].path}")
            apis[description.name] = description
    return list(apis.values())
