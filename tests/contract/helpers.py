from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from ledgerflow.jobs import JobSettings

T = TypeVar("T")

FAST = JobSettings(
    poll_interval=0.05, heartbeat_interval=0.2, worker_timeout=2.0, shutdown_grace=2.0
)


def wait_for(predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.02) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
