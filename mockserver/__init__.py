"""mockserver: a local sandbox that emulates documented portfolio APIs."""

__version__ = "0.1.0"
