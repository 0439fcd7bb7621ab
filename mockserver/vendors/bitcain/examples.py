"""What bitcain's example requests (the dashboard's curl lines and "Try it") need beyond the spec's
examples and the sandbox token: the seeded portfolios' ids, a portfolio name not taken yet, a force
delete of the portfolio that still holds assets, and a small Coinbase export for a dry-run ingest."""

from __future__ import annotations

from .. import Example
from .seed import SANDBOX_USER, SEEDED_PORTFOLIOS

DEFAULT_PORTFOLIO, PAUSED_PORTFOLIO = (portfolio["portfolio_id"] for portfolio in SEEDED_PORTFOLIOS)
STATEMENT = (
    "ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,Subtotal,"
    "Total (inclusive of fees and/or spread),Fees and/or Spread,Notes\n"
    "example-buy-1,2025-06-30 20:15:00 UTC,Buy,BTC,0.01,USD,$60000.00,$600.00,$605.00,$5.00,Bought 0.01 BTC\n"
)

WELL_KNOWN = {
    f"user_id={SANDBOX_USER}": "the sandbox user (the sandbox token's)",
    f"portfolio_id={DEFAULT_PORTFOLIO}": "the sandbox user's default portfolio (Long-Term Core)",
    f"portfolio_id={PAUSED_PORTFOLIO}": "the sandbox user's paused portfolio (Altcoin Satellite)",
}

EXAMPLES = {
    "*": Example(params={"portfolio_id": DEFAULT_PORTFOLIO}),
    "create_portfolio": Example(
        body={
            "name": "Income Sleeve",
            "target_allocations": {"BTC": 0.5, "ETH": 0.5},
            "risk_tolerance": "conservative",
            "initial_value_usd": "1000",
        }
    ),
    "delete_portfolio": Example(params={"portfolio_id": PAUSED_PORTFOLIO, "force": "true"}),
    "ingest_coinbase_csv": Example(params={"dry_run": "true"}, file=("file", "statement.csv", STATEMENT)),
}
