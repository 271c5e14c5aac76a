"""A client-side limiter for QuickBooks Online's per-company limits.

Intuit allows, per company (realm): 500 requests a minute, 40 batch requests a minute (each
item of a batch counting as one of the 500), and 10 concurrent requests. ``RateLimiter.slot``
holds one of the concurrent slots for the duration of a request and reserves its weight in
sliding 60-second windows, sleeping (through the injected ``sleep``) until the request fits.
A sliding window is stricter than a fixed minute, so it stays within the limit whichever way
QuickBooks counts. ``pause`` makes every caller wait, after a 429 with ``Retry-After``.

The limiter is per process (``limiter_for`` keeps one per company): several worker processes
each stay within the limits but together could exceed them, and then the 429 handling in the
client takes over.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

REQUESTS_PER_MINUTE = 500
BATCHES_PER_MINUTE = 40
CONCURRENT = 10
WINDOW = 60.0


class RateLimiter:
    def __init__(
        self,
        *,
        per_minute: int = REQUESTS_PER_MINUTE,
        batches_per_minute: int = BATCHES_PER_MINUTE,
        concurrent: int = CONCURRENT,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self.batches_per_minute = batches_per_minute
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrent)
        self._lock = threading.Lock()
        self._requests: deque[tuple[float, int]] = deque()  # (time, weight)
        self._used = 0
        self._batches: deque[float] = deque()
        self._paused_until = 0.0

    @contextmanager
    def slot(self, weight: int = 1, *, batch: bool = False) -> Iterator[None]:
        """Wait for a concurrent slot and room in the windows; hold the slot while inside."""
        if not 1 <= weight <= self.per_minute:
            raise ValueError(f"a request weighs 1 to {self.per_minute}, not {weight}")
        with self._slots:
            self._reserve(weight, batch)
            yield

    def pause(self, seconds: float) -> None:
        """Hold every new request back for ``seconds`` (QuickBooks said to slow down)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _reserve(self, weight: int, batch: bool) -> None:
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait(now, weight, batch)
                if wait <= 0:
                    self._requests.append((now, weight))
                    self._used += weight
                    if batch:
                        self._batches.append(now)
                    return
            self._sleep(wait)

    def _wait(self, now: float, weight: int, batch: bool) -> float:
        """0 if the request fits now, else how long until it may (caller holds the lock)."""
        horizon = now - self.window
        while self._requests and self._requests[0][0] <= horizon:
            self._used -= self._requests.popleft()[1]
        while self._batches and self._batches[0] <= horizon:
            self._batches.popleft()
        waits = [self._paused_until - now]
        if self._used + weight > self.per_minute:
            freed = 0
            for at, used in self._requests:
                freed += used
                if self._used - freed + weight <= self.per_minute:
                    waits.append(at + self.window - now)
                    break
        if batch and len(self._batches) >= self.batches_per_minute:
            waits.append(self._batches[0] + self.window - now)
        return max(waits)


_registry_lock = threading.Lock()
_registry: dict[str, RateLimiter] = {}


def limiter_for(key: str) -> RateLimiter:
    """The process-wide limiter of one company (key: the realm id or the company id)."""
    with _registry_lock:
        if key not in _registry:
            _registry[key] = RateLimiter()
        return _registry[key]
