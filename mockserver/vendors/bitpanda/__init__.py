"""Bitpanda Custody (formerly TrustVault): the user portfolio GraphQL API, AppSync style.

Authentication is AppSync's API key: the `x-api-key` header, compared in constant time with
every configured key (`credentials.bitpanda`: a list of `{"x-api-key": ..., "name": ...,
"forbidden": false}`; default: the sandbox key `mock-api-key`). Every key is its own user,
whose holdings follow from (seed, "bitpanda", key) alone (holdings.py), so answers
are the same across restarts and need no stored state, unless a scenario shapes the key: its
holdings are then the deposits and withdrawals the scenario gives (scenario.py, movements.py),
in the request's session alone. Errors have AppSync's shape:
`errorType` and `message`, plus `path`, `locations`, `data` and `errorInfo` for errors
that come from the GraphQL document.

`graphql_vendor` (here) puts the vendor together: `keys` (the users), `holdings` (what each
holds, and the quotes that value it), `scenario` and `movements` (a shaped key's holdings),
`objects` and `resolvers` (the schema's fields) and `errors` (AppSync's error entries).
"""

from __future__ import annotations

from datetime import datetime

from ...graphql import Fault, GraphQLRequest, GraphQLSetup, GraphQLVendor, Refusal
from ...security import identity_with
from ...vocabulary import as_sent
from .. import Vendor
from .errors import appsync_error
from .holdings import holdings_for
from .keys import API, HEADER, MISSING_KEY, UNKNOWN_KEY, credential_listing, identities_from
from .movements import shaped_holdings
from .objects import Viewer
from .resolvers import resolve_in, resolve_portfolio, resolve_user
from .scenario import SCENARIO, scenario_identity, shaped_key

# the example request's query: the latest balance, its total in GBP and each asset's amount
LATEST_BALANCE = (
    "{ user { portfolio { items { timestamp total { value currency } "
    "balances { items { asset { symbol name } amount { value currency } } } } } } }"
)


def graphql_vendor(setup: GraphQLSetup) -> GraphQLVendor:
    configured = setup.settings.credentials.get(API)
    identities = identities_from(configured)
    holdings = {id(identity): holdings_for(setup.world, API, identity.values[HEADER].decode()) for identity in identities}
    position = {id(identity): index for index, identity in enumerate(identities)}

    def answer_key(viewer: Viewer) -> tuple[int | None, bytes | None, datetime] | None:
        """Answers are pure functions of the query, the user, what a scenario shaped of it and the sandbox
        instant: with a frozen clock, the same query of the same user always gets the same answer (a live
        clock moves on every request). A key only a scenario names is its shape alone."""
        frozen = viewer.world.clock.frozen
        return (position.get(id(viewer.identity)), viewer.shape, frozen) if frozen is not None else None

    def authenticate(request: GraphQLRequest) -> Viewer | Refusal:
        key = request.headers.get(HEADER, "")
        if not key.strip():
            return Refusal(401, (Fault("UnauthorizedException", MISSING_KEY),))
        identity = identity_with(identities, HEADER, as_sent(key))
        shaped = shaped_key(request.state, key)
        if shaped is not None:
            shape, shaped_ones = shaped_holdings(request.world, shaped)
            return Viewer(identity or scenario_identity(key), shaped_ones, request.world, shape)
        if identity is None:
            return Refusal(401, (Fault("UnauthorizedException", UNKNOWN_KEY),))
        return Viewer(identity, holdings[id(identity)], request.world)

    hints, sets = credential_listing(identities, shown=configured is None)
    return GraphQLVendor(
        resolvers={"Query": {"user": resolve_user}, "User": {"portfolio": resolve_portfolio}, "Amount": {"in": resolve_in}},
        authenticate=authenticate,
        format_error=appsync_error,
        credential_hints=hints,
        credential_sets=sets,
        identities=identities,
        credential_fields=frozenset({HEADER}),
        answer_key=answer_key,
        example_query=LATEST_BALANCE,
    )


VENDOR = Vendor(graphql=graphql_vendor, scenario=SCENARIO)
