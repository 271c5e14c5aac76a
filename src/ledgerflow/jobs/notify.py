"""In-process wake-ups: a commit made in this process wakes this process's workers at once.

Cross-process wake-ups are the engines' business (PostgreSQL LISTEN/NOTIFY, SQLite's
``data_version`` poll); this registry only saves them the trip for work enqueued next door.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_listeners: dict[str, set[Callable[[], None]]] = {}
_lock = threading.Lock()


def subscribe(url: str, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` on every local wake for ``url``; returns the unsubscribe function."""
    with _lock:
        _listeners.setdefault(url, set()).add(callback)

    def unsubscribe() -> None:
        with _lock:
            _listeners.get(url, set()).discard(callback)

    return unsubscribe


def local_wake(url: str) -> None:
    with _lock:
        callbacks = list(_listeners.get(url, ()))
    for callback in callbacks:
        callback()
