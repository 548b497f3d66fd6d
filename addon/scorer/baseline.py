"""The slow baseline a feature is compared with: Holt's linear smoothing.

The level follows the daily and weekly rhythm and the trend follows slow ramps, so the
deviation ``value - prediction`` is small for normal traffic at any hour, and large for
a sudden change. The baseline is only updated on ticks the learning policy accepts, so an
ongoing incident does not drag it along.

    >>> b = HoltBaseline.start(1.0, level_half_life=10, trend_half_life=40)
    >>> for _ in range(50):
    ...     b.update(1.0)
    >>> round(b.predict(), 6)
    1.0
    >>> b.update(2.0); round(b.predict(), 3)  # one step barely moves it
    1.068
"""

from __future__ import annotations

from dataclasses import dataclass


def alpha_for(half_life: float) -> float:
    """Smoothing factor of an exponential average whose weights halve every ``half_life`` updates."""
    return 1.0 - 0.5 ** (1.0 / half_life) if half_life > 0 else 1.0


@dataclass
class HoltBaseline:
    """Level and trend of one transformed feature (double exponential smoothing)."""

    level: float
    trend: float
    alpha: float
    beta: float

    @classmethod
    def start(cls, value: float, level_half_life: float, trend_half_life: float) -> "HoltBaseline":
        return cls(value, 0.0, alpha_for(level_half_life), alpha_for(trend_half_life))

    def predict(self) -> float:
        """The expected value of the next tick."""
        return self.level + self.trend

    def update(self, value: float) -> None:
        previous = self.level
        self.level = self.alpha * value + (1 - self.alpha) * (self.level + self.trend)
        self.trend = self.beta * (self.level - previous) + (1 - self.beta) * self.trend

    def coast(self, damping: float = 0.99) -> None:
        """Let a tick pass without looking at it (a gap, an anomaly): the level moves on
        by the trend, as predicted, and the trend fades a little."""
        self.level += self.trend
        self.trend *= damping

    def reset(self, value: float) -> None:
        """Re-baseline on a new level (after a lasting, accepted shift)."""
        self.level, self.trend = value, 0.0
