"""Splitting a whole into integer parts that add up to it exactly (values, percentages)."""

from __future__ import annotations

from collections.abc import Sequence


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """`total` units split in proportion to `weights`, largest remainder first: the parts add up to `total` exactly."""
    whole = sum(weights)
    if not whole:
        return [0] * len(weights)
    parts = [total * weight // whole for weight in weights]
    remainders = [total * weight % whole for weight in weights]
    for index in sorted(range(len(weights)), key=lambda i: remainders[i], reverse=True)[: total - sum(parts)]:
        parts[index] += 1
    return parts
