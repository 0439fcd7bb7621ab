"""Statistics of a value series, defined so that a client can recompute them from the points.

All figures are Decimals rounded half to even: values to the cent, percentages to two
decimals, the return rate to six.

* change: ending - starting; percentage_change: change / starting x 100 (0 when starting is 0);
  return_rate: change / starting as a fraction.
* max_drawdown: the largest fall from a running peak, (peak - value) / peak x 100, in percent.
* volatility: the sample standard deviation (n - 1) of the simple returns between consecutive
  points, value[i] / value[i-1] - 1 (skipping a zero value[i-1]), in percent; 0 with fewer than
  two returns.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)
HUNDRED = Decimal(100)
_TWO = Decimal("0.01")
_SIX = Decimal("0.000001")


@dataclass(frozen=True)
class Performance:
    starting_value: Decimal
    ending_value: Decimal
    highest_value: Decimal
    lowest_value: Decimal
    absolute_change: Decimal
    percentage_change: Decimal
    return_rate: Decimal
    max_drawdown: Decimal
    volatility: Decimal
    total_data_points: int

    @property
    def is_profitable(self) -> bool:
        return self.absolute_change > 0


def _round(value: Decimal, step: Decimal) -> Decimal:
    return value.quantize(step, ROUND_HALF_EVEN)


def max_drawdown(values: Sequence[Decimal]) -> Decimal:
    """The largest fall from a running peak, in percent (unrounded)."""
    peak = ZERO
    worst = ZERO
    for value in values:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, (peak - value) / peak * HUNDRED)
    return worst


def returns(values: Sequence[Decimal]) -> list[Decimal]:
    """Simple returns between consecutive points (a zero starting point has none)."""
    return [current / previous - 1 for previous, current in itertools.pairwise(values) if previous != 0]


def volatility(values: Sequence[Decimal]) -> Decimal:
    """Sample standard deviation of the returns, in percent (unrounded)."""
    found = returns(values)
    if len(found) < 2:
        return ZERO
    return statistics.stdev(found) * HUNDRED


def summarize(values: Sequence[Decimal]) -> Performance:
    """Every figure of a series of values (oldest first)."""
    if not values:
        return Performance(ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, 0)
    start, end = values[0], values[-1]
    change = end - start
    rate = change / start if start else ZERO
    return Performance(
        starting_value=start,
        ending_value=end,
        highest_value=max(values),
        lowest_value=min(values),
        absolute_change=change,
        percentage_change=_round(rate * HUNDRED, _TWO),
        return_rate=_round(rate, _SIX),
        max_drawdown=_round(max_drawdown(values), _TWO),
        volatility=_round(volatility(values), _TWO),
        total_data_points=len(values),
    )
