"""Bitpanda's users: AppSync API keys from `credentials.bitpanda`, each its own user.

Every configured entry is `{"x-api-key": ..., "name": ..., "forbidden": false}`; without
any, the sandbox key `mock-api-key` is the one user. Also what the dashboard and the
catalog show of the keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import LoadError
from ...security import CONFIGURED
from ...vocabulary import Identity

API = "bitpanda"  # its section of the credentials, and its name
HEADER = "x-api-key"
SANDBOX_KEY = "mock-api-key"
MISSING_KEY = "Valid authorization header not provided."
UNKNOWN_KEY = "You are not authorized to make this call."


def identities_from(configured: Sequence[Any] | None) -> list[Identity]:
    """The configured keys, or the sandbox key; a configured entry without a key stops start-up."""
    if configured is None:
        return [Identity.from_config({HEADER: SANDBOX_KEY, "name": "sandbox"}, 0)]
    identities = []
    for index, entry in enumerate(configured):
        key = entry.get(HEADER) if isinstance(entry, Mapping) else None
        if not isinstance(key, str) or not key.strip():
            raise LoadError("credentials", f"bitpanda[{index}] needs a non-empty {HEADER!r} string")
        identities.append(Identity.from_config(entry, index))
    return identities


def credential_listing(identities: Sequence[Identity], shown: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """The hints and credential sets the dashboard and catalog list; a configured key is masked
    (`shown` is False), the sandbox key is shown as it is."""
    hints, sets = [], []
    for identity in identities:
        key = identity.values[HEADER].decode() if shown else CONFIGURED
        hints.append(f"{HEADER}: {key}" + ("  (forbidden: user is null, Unauthorized)" if identity.forbidden else ""))
        sets.append(
            {
                "identity": identity.name,
                "forbidden": identity.forbidden,
                "headers": {HEADER: key},
                "query": {},
                "cookies": {},
                "values": {HEADER: key},
            }
        )
    return hints, sets
