"""A circuit breaker with exponential backoff and jitter, for the outbox forwarder.

Closed: writes go out. After `threshold` consecutive failures it opens for a delay that
doubles with each further failure up to `max_s`, with "equal jitter" (half the capped
delay plus a random half; AWS Architecture Blog, "Exponential Backoff And Jitter", 2015)
so a fleet of kiosks coming back after one outage does not hammer the back office in
step. When the delay is over it is half-open: the next write is the probe; its success
closes the breaker, its failure opens it again for longer.
"""

from __future__ import annotations

import random
import time
from enum import StrEnum
from typing import Callable


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 1,
        base_s: float = 1.0,
        max_s: float = 60.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if threshold < 1 or base_s <= 0 or max_s < base_s:
            raise ValueError("threshold >= 1, 0 < base_s <= max_s")
        self.threshold, self.base_s, self.max_s = threshold, base_s, max_s
        self._rng = rng or random.Random()
        self._clock = clock
        self.failures = 0  # consecutive
        self.opened_until = 0.0
        self.last_success: float | None = None

    @property
    def state(self) -> BreakerState:
        if self.failures < self.threshold:
            return BreakerState.CLOSED
        return BreakerState.OPEN if self._clock() < self.opened_until else BreakerState.HALF_OPEN

    def allows(self) -> bool:
        return self.state is not BreakerState.OPEN

    def wait_s(self) -> float:
        """Seconds until the next attempt is allowed (0 when it is)."""
        return max(0.0, self.opened_until - self._clock()) if self.failures >= self.threshold else 0.0

    def success(self) -> None:
        self.failures = 0
        self.opened_until = 0.0
        self.last_success = self._clock()

    def failure(self) -> float:
        """Record a failed attempt; returns the delay before the next one (0 while still closed)."""
        self.failures += 1
        if self.failures < self.threshold:
            return 0.0
        delay = self.delay(self.failures - self.threshold + 1)
        self.opened_until = self._clock() + delay
        return delay

    def delay(self, n: int) -> float:
        capped = min(self.max_s, self.base_s * 2 ** (n - 1))
        return capped / 2 + self._rng.uniform(0, capped / 2)
