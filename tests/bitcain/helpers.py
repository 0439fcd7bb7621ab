"""What bitcain's tests share: where the API is, the sandbox token and user, the sandbox user's
seeded portfolios, and a Coinbase statement."""

from __future__ import annotations

from ..helpers import ROOT

MOUNT = "/bitcain"
BASE = "/bitcain/api/v1/portfolio"
TOKEN = "mock-bitcain-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SANDBOX_USER = "a169451c-8525-4352-b8ca-070dd449a1a5"
CORE = "5555717d-15c7-408a-aad2-f3155d61ff77"
SATELLITE = "8b2e4c1a-3f5d-4e7b-9a1c-2d6e8f0a4b3c"
SEEDED = [CORE, SATELLITE]  # the sandbox user's portfolios, in the order they are listed
SAMPLE = ROOT / "fixtures" / "bitcain" / "coinbase-transaction-history.csv"
