"""Treasure: business portfolio history behind OAuth client-credentials tokens, in Treasure's error envelope.

The vendor is assembled here from its modules: `tokens` (the token endpoint, and the client
credentials and bearer tokens it checks), `history` (the portfolio history handler),
`errors` (the envelope), `model` (businesses and their monthly history) and `scenario`
(businesses shaped at run time). Besides `VENDOR`, the package names the operations it
serves, how it authenticates, and how a client mints a token (`issue_token`, `TOKEN_LIFETIME`), for code that calls the vendor directly.
"""

from __future__ import annotations

from .. import Vendor
from .errors import treasure_envelope
from .history import HISTORY, HISTORY_RULES, history_handler
from .model import DOCUMENT_BUSINESS, UNFUNDED_BUSINESS
from .scenario import SCENARIO
from .tokens import TOKEN, TOKEN_LIFETIME, authenticate, issue_token, token_handler

__all__ = ["HISTORY", "TOKEN", "TOKEN_LIFETIME", "VENDOR", "authenticate", "issue_token"]

VENDOR = Vendor(
    envelope=treasure_envelope,
    validation_status=400,
    handlers={TOKEN: token_handler, HISTORY: history_handler},
    rules={HISTORY: HISTORY_RULES},
    authenticate=authenticate,
    well_known={
        f"business_id={DOCUMENT_BUSINESS}": "the reference's example business (funded 2022-01-01)",
        f"business_id={UNFUNDED_BUSINESS}": "a business without a portfolio (404)",
    },
    scenario=SCENARIO,
)
