"""bitcain's clock: the sandbox world's instant, in whole seconds like every timestamp bitcain writes."""

from __future__ import annotations

from datetime import datetime

from ...vocabulary import Call


def now(call: Call) -> datetime:
    """bitcain's clock, in whole seconds like every timestamp it writes: values read twice within
    a second are the same, so a portfolio's serialized view is kept for that second."""
    return call.world.now().replace(microsecond=0)
