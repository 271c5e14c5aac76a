"""SQLite: one file, WAL journal, writers serialized by ``BEGIN IMMEDIATE``.

Claims are one ``UPDATE … WHERE id IN (SELECT …) RETURNING`` inside ``BEGIN IMMEDIATE``, so the
selection and the update see the same state and two workers never take the same attempt.
Other processes learn of new work by polling ``PRAGMA data_version`` (it changes whenever
another connection commits), a few microseconds per look.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from ..backend import ClaimRequest
from ..errors import ConfigurationError
from ..models import Job, NewJob
from ..notify import CHANGES, WORK, LocalWatcher, subscribe
from .claim import CLAIM_SET, claim_candidates, claim_params
from .sql import SqlBackend
from .statements import INSERT_COLUMNS, SELECT, dumps, insert_params, row_to_job

if sqlite3.sqlite_version_info < (3, 35, 0):  # pragma: no cover - depends on the platform
    raise ImportError(
        f"ledgerflow needs SQLite 3.35+ for RETURNING; found {sqlite3.sqlite_version}"
    )

_POLL_SECONDS = 0.005
# A bulk insert is one statement per chunk that unpacks a JSON array of [id, args] pairs inside
# SQLite: binding and stepping one row at a time cost Python ~2.5 µs a row. 100,000 jobs:
# 0.35 s of SQLite instead of 1.1 s (before the CHECKs lost their IN lists, see schema.one_of).
_BULK_CHUNK = 10_000
_PAIR_PART = {"id": "value ->> 0", "args": "value -> 1"}
_INSERT_FROM_JSON = "INSERT INTO lf_jobs ({}) SELECT {} FROM json_each(:rows)".format(
    ", ".join(INSERT_COLUMNS), ", ".join(_PAIR_PART.get(c, f":{c}") for c in INSERT_COLUMNS)
)


def sqlite_path(url: str) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ConfigurationError(
            f"SQLite URLs look like sqlite:///relative.db or sqlite:////abs.db: {url!r}"
        )
    path = url[len(prefix) :].split("?", 1)[0]
    if not path or path == ":memory:":
        raise ConfigurationError(
            "an in-memory SQLite database cannot be shared by workers; use a file"
        )
    return path


class SqliteBackend(SqlBackend[sqlite3.Connection]):
    greatest = "MAX"
    lateral = False
    driver_errors = (sqlite3.Error,)

    def __init__(self, url: str, pool_size: int, pool_timeout: float) -> None:
        self.path = sqlite_path(url)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(url, pool_size, pool_timeout)

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives any process crash; only an OS crash or power loss may
        # lose the last commits (never corrupt the file). See docs/guarantees.md.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA busy_timeout = 60000")
        try:  # the admin's run-time histograms use them; only some builds have math functions
            conn.execute("SELECT ln(1), floor(1.5)")
        except sqlite3.OperationalError:
            conn.create_function("ln", 1, math.log, deterministic=True)
            conn.create_function("floor", 1, math.floor, deterministic=True)
        return conn

    def rows_table(self, columns: Mapping[str, str]) -> str:
        parts = ", ".join(f"value ->> '{name}' AS {name}" for name in columns)
        return f"(SELECT {parts} FROM json_each(:rows)) AS v"

    def close_connection(self, conn: sqlite3.Connection) -> None:
        conn.close()

    def is_usable(self, conn: sqlite3.Connection) -> bool:
        return not conn.in_transaction

    @contextmanager
    def write(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def sql(self, statement: str) -> str:
        return statement

    def driver_connection(self, connection: object) -> sqlite3.Connection:
        if isinstance(connection, sqlite3.Connection):
            return connection
        raw = getattr(getattr(connection, "connection", None), "driver_connection", None)
        if isinstance(raw, sqlite3.Connection):
            return raw
        raise ConfigurationError(f"not a SQLite connection: {connection!r}")

    shared_changes = False

    def announce_changes(self, conn: sqlite3.Connection, job_ids: Sequence[str]) -> None:
        """Only in-process listeners can hear SQLite: ``changed`` publishes after commit."""

    def watch_changes(self, on_change: Callable[[str], None]) -> LocalWatcher:
        return LocalWatcher(CHANGES, self.url, on_change)

    def announce(self, conn: sqlite3.Connection) -> None:
        """Other processes see the commit through ``data_version``; nothing to send."""

    def claim(self, conn: sqlite3.Connection, request: ClaimRequest) -> list[Job]:
        candidates = claim_candidates(len(request.queues), self.lateral)
        statement = f"UPDATE lf_jobs SET {CLAIM_SET} WHERE id IN ({candidates}) RETURNING {SELECT}"
        return [row_to_job(r) for r in conn.execute(statement, claim_params(request)).fetchall()]

    def insert_bulk(
        self, template: NewJob, ids: Sequence[str], args: Iterable[dict[str, Any]]
    ) -> None:
        shared = insert_params(template)
        arguments = iter(args)

        def insert(conn: sqlite3.Connection) -> None:
            for start in range(0, len(ids), _BULK_CHUNK):
                chunk = ids[start : start + _BULK_CHUNK]
                rows = dumps(list(zip(chunk, islice(arguments, len(chunk)), strict=True)))
                conn.execute(_INSERT_FROM_JSON, {**shared, "rows": rows})

        self.run(insert)
        self.wake_local()

    def watch(self, on_signal: Callable[[], None]) -> DataVersionWatcher:
        return DataVersionWatcher(self, on_signal)


class DataVersionWatcher:
    """Polls ``PRAGMA data_version`` on its own connection and signals on every change."""

    def __init__(self, backend: SqliteBackend, on_signal: Callable[[], None]) -> None:
        self._conn = backend.connect()
        self._on_signal = on_signal
        self._stop = threading.Event()
        self._unsubscribe = subscribe(WORK, backend.url, lambda _: on_signal())
        self._thread = threading.Thread(target=self._poll, name="lf-sqlite-watch", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        version = None
        try:
            while not self._stop.wait(_POLL_SECONDS):
                current = self._conn.execute("PRAGMA data_version").fetchone()[0]
                if current != version:
                    version = current
                    self._on_signal()
        finally:
            self._conn.close()

    def close(self) -> None:
        self._unsubscribe()
        self._stop.set()
        self._thread.join(timeout=2)
