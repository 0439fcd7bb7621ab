"""Vendor modules: what a spec cannot say (error envelope, stateful handlers).

`mockserver.vendors.<name>` is looked up by the spec's `x-mock.vendor` or else its
API name; it exposes `VENDOR`. A spec without a vendor module gets `GENERIC`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from ..envelopes import problem_json
from ..sandbox.store import Seeder
from ..security import AuthOutcome, AuthRequest
from ..vocabulary import Envelope, SandboxHandler

Authenticator = Callable[[AuthRequest], AuthOutcome]


@dataclass
class Vendor:
    envelope: Envelope = problem_json
    validation_status: int = 400  # status for parameter and body violations
    handlers: dict[str, SandboxHandler] = field(default_factory=dict)  # operation key -> handler
    authenticate: Authenticator | None = None  # replaces the spec's security check (signatures)
    strict_query: bool = False  # a query parameter the operation does not define is a violation
    seed_state: Seeder | None = None  # fills the store at first start and after a reset
    well_known: dict[str, str] = field(default_factory=dict)  # id a user can try -> what it gives (dashboard, catalog)


GENERIC = Vendor()


def vendor_for(name: str) -> Vendor:
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        return GENERIC
    return module.VENDOR
