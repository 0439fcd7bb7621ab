"""bitcain: a FastAPI portfolio service. Its error format, and the stateful sandbox behind it.

Errors are FastAPI's: validation problems are 422 `{"detail": [{"type", "loc", "msg", "input",
"ctx"}]}` exactly as pydantic 2 words them, every other error is `{"detail": "message"}`.

The bearer token's user owns one ledger (balances, cost basis, lots, ingest, value history,
history and performance all derive from it and the shared price history); the portfolio CRUD
routes are scoped by their `user_id` query parameter, as the document has them. Portfolios
are JSON documents in the store, and so is a user's ledger once something was written to it.

The folder: `errors` and `validation_errors` word the answers as FastAPI and pydantic do;
`ledger`, `csv_ingest`, `valuation`, `performance` and `portfolios` are the business model;
`clock` and `user_ledger` are what a handler reads of a call; `holdings_handlers`,
`ingest_handlers`, `history_handlers` and `portfolio_handlers` answer the operations named
in `VENDOR` below; `seed` is the state a start or a reset begins from; `own_settings` are its settings; `rules` what it
refuses before any answer is chosen; `scenario` (with `scenario_ledger`, `scenario_portfolios` and
`scenario_values`) shapes a user's ledger and portfolios at run time; `examples` fills in the dashboard's
example requests.
"""

from .. import FASTAPI, Vendor
from . import own_settings, rules
from .errors import fastapi_envelope
from .examples import EXAMPLES, WELL_KNOWN
from .history_handlers import export, history, performance, value_history
from .holdings_handlers import aggregate, balances, cost_basis, lots, rebuild_lots
from .ingest_handlers import backfill, ingest_csv, refresh
from .portfolio_handlers import (
    analytics,
    create_portfolio,
    delete_portfolio,
    get_portfolio,
    health,
    list_portfolios,
    update_portfolio,
)
from .scenario import SCENARIO
from .seed import seed_state

VENDOR = Vendor(
    envelope=fastapi_envelope,
    validation_status=422,
    framework=FASTAPI,
    handlers={
        "portfolio_health": health,
        "get_portfolio_balances": balances,
        "get_portfolio_aggregate": aggregate,
        "get_portfolio_cost_basis": cost_basis,
        "get_account_cost_basis_lots": lots,
        "rebuild_account_cost_basis_lots": rebuild_lots,
        "backfill_ingest": backfill,
        "ingest_coinbase_csv": ingest_csv,
        "refresh_portfolio": refresh,
        "get_holdings_value_history": value_history,
        "list_portfolios": list_portfolios,
        "create_portfolio": create_portfolio,
        "get_portfolio": get_portfolio,
        "delete_portfolio": delete_portfolio,
        "update_portfolio": update_portfolio,
        "get_portfolio_analytics": analytics,
        "get_portfolio_history": history,
        "get_portfolio_performance": performance,
        "export_portfolio_history": export,
    },
    rules={
        "get_portfolio_balances": (rules.exchange_rule,),
        "ingest_coinbase_csv": (rules.upload_rule,),
        "create_portfolio": (rules.new_portfolio_rule,),
        "update_portfolio": (rules.portfolio_update_rule,),
        "get_portfolio_history": (rules.currency_rule,),
        "get_portfolio_performance": (rules.currency_rule,),
        "export_portfolio_history": (rules.currency_rule,),
    },
    seed_state=seed_state,
    settings=dict(own_settings.DEFAULTS),
    scenario=SCENARIO,
    well_known=WELL_KNOWN,
    examples=EXAMPLES,
)
