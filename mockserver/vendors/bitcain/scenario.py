"""bitcain users shaped at run time (a scenario's `bitcain` member): a user's ledger entries and
portfolios, in bitcain's own terms.

    {"users": [{"user_id": "a169451c-8525-4352-b8ca-070dd449a1a5",
                "ledger": [{"at": "2024-03-01T12:00:00Z", "kind": "buy", "asset": "BTC", "quantity": "0.5",
                            "price_usd": "30000", "fee_usd": "15", "exchange": "coinbase"},
                           {"at": "2025-06-02T09:00:00Z", "kind": "sell", "asset": "BTC", "quantity": "0.1",
                            "exchange": "coinbase"}],
                "portfolios": [{"name": "Core", "target_allocations": {"BTC": 0.6, "ETH": 0.4},
                                "initial_value_usd": "10000", "created_at": "2025-01-02T00:00:00Z"}]}]}

A user is named by `user_id`, bitcain's one name for a user: the `user_id` query parameter of the
portfolio routes, and the user a bearer token acts as (`user_ledger.user_of`): the sandbox token's
is the document's example user (the one above); a configured credential's is its `user_id`, or
else a UUID derived from its name, which every ledger answer shows as `user_id`. So one user's
ledger and portfolios are shaped together, and a ledger is seen through every token of that user
(a ledger for a user no token acts as is kept until a credential with that `user_id` reads it).

`ledger` replaces the user's ledger (seeded or written since) with these entries (scenario_ledger:
`kind` buy, receive, reward, convert_in, sell, send or convert_out; `asset`, `exchange`, `at`,
`quantity`; `price_usd` per unit, else the market price at `at`; `fee_usd`, `id`, `source`,
`note`); an empty list leaves the user with nothing. Balances, aggregate, cost basis, lots, value
history, history, performance and export are then the ledger's own FIFO book over these entries,
priced with the shared prices at the sandbox clock's now; an entry later than now counts once the
clock passes it. An entry selling or sending more than its exchange holds then is refused.
`portfolios` replaces the user's portfolios with these (scenario_portfolios: the create body, with
`created_at` and optionally `portfolio_id`, `updated_at`, `status`), each bought with its initial
value at the prices of `created_at`. A member left out leaves that part of the user as it is; a
user given again replaces the members given. Instants are required: a saved world must not depend
on when it is loaded.

What is exported is what scenarios installed (each user with the members given), not what the API
wrote since (an ingest, a portfolio created or deleted).
"""

from __future__ import annotations

from typing import Any

from ...sandbox.store import ApiState
from .. import ScenarioKind, exported, listed, unknown_members
from . import portfolios, scenario_ledger, scenario_portfolios
from .scenario_values import text_within
from .user_ledger import LEDGER

USER = "scenario-user"
MAX_USERS, MAX_USER_ID = 1000, 200
_MEMBERS = frozenset({"user_id", "ledger", "portfolios"})


def check(payload: Any) -> list[str]:
    users, problems = listed(payload, "bitcain", "users", MAX_USERS)
    named: set[str] = set()
    portfolio_ids: set[str] = set()
    for index, user in enumerate(users):
        where = f"bitcain.users[{index}]"
        if not isinstance(user, dict):
            problems.append(f"{where}: a user is an object")
            continue
        problems.extend(unknown_members(user, _MEMBERS, where))
        user_id = user.get("user_id")
        if not text_within(user_id, MAX_USER_ID):
            problems.append(f"{where}.user_id: a string of 1 to {MAX_USER_ID} characters")
            continue
        if user_id in named:
            problems.append(f"{where}.user_id: {user_id} is given twice")
        named.add(user_id)
        if "ledger" in user:
            problems.extend(scenario_ledger.problems_of(user_id, user["ledger"], f"{where}.ledger"))
        if "portfolios" in user:
            problems.extend(scenario_portfolios.problems_of(user_id, user["portfolios"], f"{where}.portfolios", portfolio_ids))
    return problems


def install(state: ApiState, payload: Any) -> None:
    for user in payload["users"]:
        user_id = user["user_id"]
        if "ledger" in user:
            entries = scenario_ledger.entry_docs(user_id, user["ledger"])
            state.put(LEDGER, user_id, {"user_id": user_id, "entries": entries}, owner=user_id)
        if "portfolios" in user:
            for earlier in state.find(portfolios.KIND, owner=user_id):
                state.delete(portfolios.KIND, earlier["portfolio_id"])
            for given in user["portfolios"]:
                doc = scenario_portfolios.portfolio_doc(user_id, given)
                state.put(portfolios.KIND, doc["portfolio_id"], doc, owner=user_id)
        state.put(USER, user_id, {**(state.get(USER, user_id) or {}), **user})


def export(state: ApiState) -> Any:
    return exported(state, USER, "users")


SCENARIO = ScenarioKind(check, install, export)
