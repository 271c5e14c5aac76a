"""A small thread-safe connection pool: reuse connections, drop the ones that broke.

It bounds how many connections are open at once, not only how many wait idle: under load a
caller waits for a free connection instead of opening one more, which on a shared PostgreSQL
server would end in "too many connections" for everyone. A caller that waits longer than
``timeout`` gets a ``BackendError`` that says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from ..errors import BackendError

C = TypeVar("C")


class Pool(Generic[C]):
    def __init__(
        self,
        connect: Callable[[], C],
        close: Callable[[C], None],
        is_usable: Callable[[C], bool],
        *,
        max_open: int,
        timeout: float,
        max_idle: int = 8,
    ) -> None:
        self._connect = connect
        self._close = close
        self._is_usable = is_usable
        self.max_open = max_open
        self.timeout = timeout
        self._max_idle = min(max_idle, max_open)
        self._idle: list[C] = []
        self._open = 0  # idle ones included
        self._freed = threading.Condition()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[C]:
        conn = self._acquire()
        try:
            yield conn
        except BaseException:
            self._release(conn)
            raise
        self._release(conn)

    def _acquire(self) -> C:
        deadline = time.monotonic() + self.timeout
        with self._freed:
            while not self._idle and self._open >= self.max_open:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BackendError(
                        f"no database connection came free within {self.timeout:g} s: all"
                        f" {self.max_open} of this process's pool are in use (DB_POOL_SIZE)"
                    )
                self._freed.wait(left)
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._connect()
        except BaseException:
            self._forget()
            raise

    def _release(self, conn: C) -> None:
        if self._is_usable(conn):
            with self._freed:
                if not self._closed and len(self._idle) < self._max_idle:
                    self._idle.append(conn)
                    self._freed.notify()
                    return
        self._close(conn)
        self._forget()

    def _forget(self) -> None:
        with self._freed:
            self._open -= 1
            self._freed.notify()

    @property
    def open(self) -> int:
        """Connections open now, lent out or idle."""
        return self._open

    def close(self) -> None:
        with self._freed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._freed.notify_all()
        for conn in idle:
            self._close(conn)
