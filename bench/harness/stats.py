"""Medians and spreads of rounds, and ratios between contenders measured in the same rounds."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Spread", "paired_ratio"]


@dataclass(frozen=True)
class Spread:
    """The median of a figure over rounds, with its min and max."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        """The spread of one figure's samples (at least one)."""
        if not samples:
            raise ValueError("no samples")
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    def scaled(self, factor: float) -> Spread:
        """The same spread in another unit (factor > 0)."""
        return Spread(
            self.median * factor, self.low * factor, self.high * factor, self.n
        )

    def inverse(self, numerator: float) -> Spread:
        """numerator / x of each value (a time turned into a rate): low and high swap."""
        return Spread(
            numerator / self.median, numerator / self.high, numerator / self.low, self.n
        )


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """The ratio of medians, with the spread of the round-by-round ratios.

    Rounds alternate the contenders, so the i-th samples of two contenders were taken close in
    time; their ratio cancels slow drifts of the machine's load.
    """
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError(
            "paired_ratio needs as many numerators as denominators, at least one"
        )
    per_round = [a / b for a, b in zip(numerators, denominators, strict=True)]
    ratio = statistics.median(numerators) / statistics.median(denominators)
    return Spread(ratio, min(per_round), max(per_round), len(per_round))
