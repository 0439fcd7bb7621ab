"""Vendor modules: what a spec cannot say (error envelope, stateful handlers).

`mockserver.vendors.<name>` is looked up by the spec's `x-mock.vendor` or else its
API name; it exposes `VENDOR`. A spec without a vendor module gets `GENERIC`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..envelopes import Envelope, Reply, problem_json
from ..sandbox.store import ApiState, Seeder
from ..sandbox.world import World
from ..security import AuthOutcome, AuthRequest, Identity


@dataclass(slots=True)
class Call:
    """What a sandbox handler sees of a request that passed authentication and validation."""

    operation: str
    params: dict[str, dict[str, Any]]  # location -> name -> coerced value (shared between requests: never change it)
    body: Any
    identity: Identity | None
    world: World
    state: ApiState  # this API's documents in the store


Handler = Callable[[Call], "Reply | None"]
Authenticator = Callable[[AuthRequest], AuthOutcome]


@dataclass
class Vendor:
    envelope: Envelope = problem_json
    validation_status: int = 400  # status for parameter and body violations
    handlers: dict[str, Handler] = field(default_factory=dict)  # operation key -> handler
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
