"""In-process signals: a commit made in this process reaches this process's listeners at once.

Two channels: ``WORK`` (jobs were enqueued or released: wake the workers) and ``CHANGES``
(a job's row changed; the payload is its id). Cross-process delivery is the engines' business
(PostgreSQL LISTEN/NOTIFY, SQLite's ``data_version`` poll); this registry only saves them the
trip for the listeners next door.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

WORK = "work"
CHANGES = "changes"

_listeners: dict[tuple[str, str], set[Callable[[str], None]]] = {}
_lock = threading.Lock()


def subscribe(channel: str, url: str, callback: Callable[[str], None]) -> Callable[[], None]:
    """Call ``callback(payload)`` on every local publish; returns the unsubscribe function."""
    key = (channel, url)
    with _lock:
        _listeners.setdefault(key, set()).add(callback)

    def unsubscribe() -> None:
        with _lock:
            _listeners.get(key, set()).discard(callback)

    return unsubscribe


def publish(channel: str, url: str, payloads: Sequence[str] = ("",)) -> None:
    """Call every local listener with each payload: a worker's exchange publishes its batch's
    job ids at once (one lock instead of one per id: half a microsecond a job)."""
    with _lock:
        callbacks = list(_listeners.get((channel, url), ()))
    for callback in callbacks:
        for payload in payloads:
            callback(payload)


class LocalWatcher:
    """A subscription with the ``Watcher`` shape (``close``)."""

    def __init__(self, channel: str, url: str, callback: Callable[[str], None]) -> None:
        self.close = subscribe(channel, url, callback)
