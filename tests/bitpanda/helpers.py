"""What Bitpanda's tests share: the GraphQL endpoint and the sandbox key."""

from __future__ import annotations

URL = "/bitpanda/graphql"
KEY = "mock-api-key"
AUTH = {"x-api-key": KEY}
