"""bitcain as a plain FastAPI app: the oracle of the mock's framework behaviour.

Every operation of the bitcain reference (../shared/seeds, the "bitcain" document) is declared as
FastAPI would declare it: the query parameters with their types, ranges, enums and defaults, the
pydantic 2 body models, `HTTPBearer()` on the operations the reference shows with an
Authorization section, and a multipart `UploadFile` for the CSV ingest. The handlers hold no
business logic: each answers a fixed body of the documented shape, so that whatever FastAPI,
pydantic and Starlette answer before a handler runs (validation, authentication, routing, body
parsing) is what the mock must answer too.

Two rules the reference states are declared because FastAPI answers them itself: target
allocations "must sum to 1.0" (a field validator raising ValueError), and a token other than the
sandbox's is refused as an HTTPBearer dependency refuses it. Where the reference is silent the
declaration follows the mock's spec (specs/bitcain.yaml): literal routes come before
/{portfolio_id}, create answers 201, delete 204, and `portfolio_id` in the query is a string.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, field_validator

from .helpers import CORE, SANDBOX_USER, TOKEN

ALLOCATION_TOLERANCE = 1e-6  # how far from 1.0 the allocations may sum (specs/bitcain.yaml)


class RiskTolerance(StrEnum):
    conservative = "conservative"
    moderate = "moderate"
    aggressive = "aggressive"


class Timeframe(StrEnum):
    one_day = "1D"
    one_week = "1W"
    one_month = "1M"
    three_months = "3M"
    one_year = "1Y"
    all = "ALL"


def _summing_to_one(allocations: dict[str, float] | None) -> dict[str, float] | None:
    """The reference's rule: "must sum to 1.0" (worded as the mock words it)."""
    if allocations is not None:
        whole = sum(allocations.values())
        if abs(whole - 1.0) > ALLOCATION_TOLERANCE:
            raise ValueError(f"target_allocations must sum to 1.0 (got {whole:.6g})")
    return allocations


class PortfolioCreate(BaseModel):
    name: str = Field(max_length=100, description="Portfolio name (must be unique per user)")
    description: str | None = Field(None, description="Portfolio description")
    target_allocations: dict[str, float] = Field(description="Target asset allocations as decimal percentages (must sum to 1.0)")
    risk_tolerance: RiskTolerance = Field(RiskTolerance.moderate, description="Risk tolerance level")
    is_active: bool = Field(True, description="Portfolio actively managed")
    is_default: bool = Field(False, description="Set as default portfolio")
    initial_value_usd: Decimal = Field(Decimal("0"), description="Initial portfolio value in USD")
    tags: list[str] = Field(default_factory=list, description="Portfolio tags")

    check_allocations = field_validator("target_allocations")(_summing_to_one)


class PortfolioUpdate(BaseModel):
    """Every member optional; the name keeps creation's length (the reference: "The rules of creation apply")."""

    name: Annotated[str, Field(max_length=100)] | None = Field(None, description="Portfolio name")
    description: str | None = Field(None, description="Portfolio description")
    target_allocations: dict[str, float] | None = Field(None, description="Updated target asset allocations (must sum to 1.0 if provided)")
    risk_tolerance: RiskTolerance | None = Field(None, description="Risk tolerance level")
    is_active: bool | None = Field(None, description="Portfolio actively managed")
    tags: list[str] | None = Field(None, description="Portfolio tags")

    check_allocations = field_validator("target_allocations")(_summing_to_one)


bearer = HTTPBearer()


def token_user(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
    """The sandbox token's user; any other token is refused as HTTPBearer refuses a bad scheme."""
    if credentials.credentials != TOKEN:
        raise HTTPException(401, "Invalid authentication credentials", headers={"WWW-Authenticate": "Bearer"})
    return SANDBOX_USER


Authenticated = Annotated[str, Depends(token_user)]
DryRun = Annotated[bool, Query()]
HistoryTimeframe = Annotated[Timeframe, Query(description="Timeframe for historical data")]
PortfolioIdQuery = Annotated[str | None, Query(description="Optional specific portfolio ID")]
Currency = Annotated[str, Query(description="Currency denomination")]
Owner = Annotated[str, Query(description="User ID for ownership verification")]

PORTFOLIO = {  # the reference's example Portfolio
    "portfolio_id": CORE,
    "user_id": SANDBOX_USER,
    "name": "string",
    "description": "string",
    "total_value_usd": "string",
    "target_allocations": {"property1": 0, "property2": 0},
    "current_allocations": {"property1": 0, "property2": 0},
    "last_rebalanced_at": "2019-08-24T14:15:22Z",
    "is_active": True,
    "created_at": "2019-08-24T14:15:22Z",
    "updated_at": "2019-08-24T14:15:22Z",
    "risk_tolerance": "conservative",
    "status": "created",
    "is_default": True,
    "total_return": "string",
    "total_return_percentage": "string",
    "tags": ["string"],
}

router = APIRouter(prefix="/api/v1/portfolio", tags=["Portfolio"])


@router.get("/health")
async def portfolio_health() -> dict[str, Any]:
    return {}


@router.get("/balances")
async def get_portfolio_balances(
    _: Authenticated, exchange: Annotated[str, Query(description="Exchange to query balances from")] = "binanceus"
) -> dict[str, Any]:
    return {}


@router.get("/aggregate")
async def get_portfolio_aggregate(_: Authenticated) -> dict[str, Any]:
    return {}


@router.get("/cost-basis")
async def get_portfolio_cost_basis(_: Authenticated) -> dict[str, Any]:
    return {}


@router.get("/cost-basis/lots")
async def get_account_cost_basis_lots(_: Authenticated) -> dict[str, Any]:
    return {}


@router.post("/cost-basis/lots/rebuild")
async def rebuild_account_cost_basis_lots(_: Authenticated) -> dict[str, Any]:
    return {}


@router.post("/ingest/backfill")
async def backfill_ingest(
    _: Authenticated,
    source: str = "trade_history_sync",
    dry_run: DryRun = False,
    max_pages: Annotated[int, Query(ge=1, le=25, description="Max Coinbase-ledger pages to fetch per currency")] = 3,
) -> dict[str, Any]:
    return {}


@router.post("/ingest/csv")
async def ingest_coinbase_csv(
    _: Authenticated,
    file: Annotated[UploadFile, File(description="Coinbase Statements 'Transaction history' CSV")],
    dry_run: DryRun = False,
) -> dict[str, Any]:
    return {}


@router.post("/refresh")
async def refresh_portfolio(_: Authenticated) -> dict[str, Any]:
    return {}


@router.get("/value-history")
async def get_holdings_value_history(
    _: Authenticated, days: Annotated[int, Query(ge=1, le=365, description="How many days of history to return")] = 30
) -> dict[str, Any]:
    return {}


@router.get("/")
async def list_portfolios(
    user_id: Annotated[str, Query(description="User ID for portfolio ownership")],
    active_only: Annotated[bool, Query(description="Filter for active portfolios only")] = True,
    limit: Annotated[int, Query(ge=1, le=100, description="Maximum number of portfolios")] = 50,
    offset: Annotated[int, Query(ge=0, description="Number of portfolios to skip")] = 0,
) -> list[dict[str, Any]]:
    return [PORTFOLIO]


@router.post("/", status_code=201)
async def create_portfolio(
    _: Authenticated, user_id: Annotated[str, Query(description="User ID for portfolio ownership")], portfolio: PortfolioCreate
) -> dict[str, Any]:
    return PORTFOLIO


@router.get("/history")
async def get_portfolio_history(
    _: Authenticated, timeframe: HistoryTimeframe = Timeframe.one_month, portfolio_id: PortfolioIdQuery = None, currency: Currency = "USD"
) -> list[dict[str, Any]]:
    return []


@router.get("/history/performance")
async def get_portfolio_performance(
    _: Authenticated, timeframe: HistoryTimeframe = Timeframe.one_month, portfolio_id: PortfolioIdQuery = None, currency: Currency = "USD"
) -> dict[str, Any]:
    return {}


@router.get("/history/export")
async def export_portfolio_history(
    _: Authenticated, timeframe: HistoryTimeframe = Timeframe.one_month, portfolio_id: PortfolioIdQuery = None, currency: Currency = "USD"
) -> None:
    return None


@router.get("/{portfolio_id}")
async def get_portfolio(
    portfolio_id: str, user_id: Annotated[str | None, Query(description="User ID for ownership verification")] = None
) -> dict[str, Any]:
    return PORTFOLIO


@router.delete("/{portfolio_id}", status_code=204)
async def delete_portfolio(
    _: Authenticated,
    portfolio_id: str,
    user_id: Owner,
    force: Annotated[bool, Query(description="Force deletion even if portfolio has assets")] = False,
) -> None:
    return None


@router.put("/{portfolio_id}")
async def update_portfolio(_: Authenticated, portfolio_id: str, user_id: Owner, update: PortfolioUpdate) -> dict[str, Any]:
    return PORTFOLIO


@router.get("/{portfolio_id}/analytics")
async def get_portfolio_analytics(portfolio_id: str, user_id: Owner) -> dict[str, Any]:
    return {}


def create_oracle(mount: str = "") -> FastAPI:
    """The reference's API under `mount` (the mock serves bitcain under /bitcain)."""
    app = FastAPI(title="bitcain oracle")
    app.include_router(router, prefix=mount)
    return app
