"""Remembered passes of the OpenAPI check: a description that passed is not checked again until it changes.

Checking a document against the OpenAPI specification is half of start-up and about 20 MB
of resident memory (openapi-spec-validator and everything it imports), and it gives the same
answer for the same bytes. So a pass is remembered as an empty file named after the SHA-256
of the file's bytes and the validator's version, in `$MOCKSERVER_CACHE_DIR`, else
`$XDG_CACHE_HOME/mockserver`, else `~/.cache/mockserver`. Only passes are remembered: a
failing document is checked, and refused, every time. `mockserver check` always checks afresh.
A folder that cannot be written is simply not used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

VALIDATOR = "openapi-spec-validator"


def cache_dir() -> Path:
    configured = os.environ.get("MOCKSERVER_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mockserver"


def _marker(source: bytes) -> Path:
    try:
        checker = version(VALIDATOR)
    except PackageNotFoundError:
        checker = "unknown"
    digest = hashlib.sha256(checker.encode() + b"\0" + source).hexdigest()
    return cache_dir() / "openapi-passed" / digest


def passed_before(source: bytes) -> bool:
    """True when these exact bytes passed the same validator's check before."""
    return _marker(source).is_file()


def remember_pass(source: bytes) -> None:
    marker = _marker(source)
    with contextlib.suppress(OSError):
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
