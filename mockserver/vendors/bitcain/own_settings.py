"""bitcain's own settings (`Vendor.settings`): per-user bounds that keep the sandbox state bounded.

Set as `vendors.bitcain.<name>` (or `--vendor-setting bitcain.<name>=N`), or under their top-level
names, which they had before vendors owned their settings (`--max-portfolios-per-user`, ...)."""

MAX_PORTFOLIOS = "max_portfolios_per_user"  # portfolios one user may hold; one more is 409
MAX_LEDGER_ENTRIES = "max_ledger_entries_per_user"  # transactions one ledger may hold; an ingest beyond is 422
DEFAULTS = {MAX_PORTFOLIOS: 500, MAX_LEDGER_ENTRIES: 20_000}
