"""The simulated world: deterministic prices, holdings and state."""
