"""PostgreSQL: claims with ``FOR UPDATE SKIP LOCKED``, wake-ups with LISTEN/NOTIFY.

Claims are serialized by a transaction-level advisory lock taken just before the claim
statement, so the per-key running counts the statement reads cannot be raced by another
claimer (READ COMMITTED gives each statement a fresh snapshot, taken after the lock).
Connections carry TCP keepalives on both ends, so a peer that vanished is noticed in seconds,
and the server ends a session that stalls inside a transaction, so its row locks never outlive
the lease of the jobs they cover.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.copy import QueuedLibpqWriter

from ..backend import ClaimRequest
from ..models import Job, NewJob
from ..notify import CHANGES, WORK, subscribe
from .claim import CLAIM_SET, ORDER, claim_candidates, claim_params
from .sql import SqlBackend
from .statements import (
    INSERT_COLUMNS,
    SELECT,
    insert_rows,
    row_to_job,
    to_pyformat,
)

_CLIENT_KEEPALIVE = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 15000,
}
_SERVER_KEEPALIVE = {
    "tcp_keepalives_idle": 5,
    "tcp_keepalives_interval": 2,
    "tcp_keepalives_count": 3,
    "tcp_user_timeout": 15000,
}
_TYPES = {"text": "text", "integer": "integer", "real": "double precision"}
CHANNEL = "lf_jobs"
CHANGES_CHANNEL = "lf_job_events"
_IDS_PER_NOTIFY = 200  # job ids are at most 32 characters
_COPY = f"COPY lf_jobs ({', '.join(INSERT_COLUMNS)}) FROM STDIN"
CLAIM_LOCK = 0x1F_0B5_C1A1  # arbitrary, fixed: serializes claims
_RETURNING = ", ".join("j." + c for c in SELECT.split(", "))
# A claim reads only the heads of ordered lines, which its indexes give presorted. Without
# fresh statistics (a new or bulk-loaded table) the planner may find a sort of a whole status
# index as cheap, and read every pending row once per key: sorts are made a last resort for
# the claim's transaction. That inflates the plan's cost past the JIT threshold, and a
# millisecond query never repays half a second of compiling, so JIT is off too.
_PLAN = "set_config('enable_sort', 'off', true), set_config('jit', 'off', true)"
_CLAIM_PREAMBLE = f"SELECT pg_advisory_xact_lock(%s), {_PLAN}"


@cache
def claim_statement(queue_count: int) -> str:
    # SKIP LOCKED passes over rows another transaction holds (a cancel, a finishing write).
    set_clause = CLAIM_SET.replace("attempts + 1", "j.attempts + 1").replace(
        "revision + 1", "j.revision + 1"
    )
    # ``= ANY(ARRAY(…))`` rather than ``IN (…)`` or a join: the planner then looks the few ids
    # up by primary key instead of hashing them against a scan of the whole table.
    return to_pyformat(
        f"UPDATE lf_jobs j SET {set_clause} WHERE j.id = ANY(ARRAY(SELECT id FROM lf_jobs"
        f" WHERE id = ANY(ARRAY({claim_candidates(queue_count, lateral=True)})) {ORDER}"
        f" LIMIT :limit FOR UPDATE SKIP LOCKED)) RETURNING {_RETURNING}"
    )


def conninfo(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme != "postgresql" else url


class PostgresBackend(SqlBackend[psycopg.Connection[Any]]):
    greatest = "GREATEST"
    lateral = True
    driver_errors = (psycopg.Error,)

    def __init__(self, url: str, pool_size: int, pool_timeout: float, stalled_after: float) -> None:
        self.conninfo = self.with_session_limits(conninfo(url), stalled_after)
        super().__init__(url, pool_size, pool_timeout)

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo, autocommit=True)

    @staticmethod
    def with_session_limits(conninfo: str, stalled_after: float) -> str:
        """Keepalives on this side (libpq) and the server's (``-c tcp_keepalives_*``): a dead
        peer then fails calls in ~15 s instead of ~2 hours. And the server ends a session idle
        inside a transaction for ``stalled_after`` seconds: keepalives cannot tell a stuck or
        cut-off client whose host still answers them, and until its session ends, the row
        locks it holds would block the rescue of its jobs. The runtime's own transactions
        never wait on anything but the database. Settings the URL makes are kept."""
        params = conninfo_to_dict(conninfo)
        for key, value in _CLIENT_KEEPALIVE.items():
            params.setdefault(key, value)
        options = str(params.get("options") or "")
        limits = {
            **_SERVER_KEEPALIVE,
            "idle_in_transaction_session_timeout": max(1, round(stalled_after * 1000)),
        }
        server = [f"-c {k}={v}" for k, v in limits.items() if k not in options]
        params["options"] = " ".join([options, *server]).strip()
        return make_conninfo("", **params)

    def close_connection(self, conn: psycopg.Connection[Any]) -> None:
        conn.close()

    def is_usable(self, conn: psycopg.Connection[Any]) -> bool:
        return not conn.closed and not conn.broken

    @contextmanager
    def write(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        with conn.transaction():
            yield

    def sql(self, statement: str) -> str:
        return to_pyformat(statement)

    def rows_table(self, columns: Mapping[str, str]) -> str:
        types = ", ".join(f"{name} {_TYPES[kind]}" for name, kind in columns.items())
        return f"json_to_recordset(CAST(:rows AS json)) AS v({types})"

    def driver_connection(self, connection: object) -> psycopg.Connection[Any]:
        from ..errors import ConfigurationError

        if isinstance(connection, psycopg.Connection):
            return connection
        raw = getattr(getattr(connection, "connection", None), "driver_connection", None)
        if isinstance(raw, psycopg.Connection):
            return raw
        raise ConfigurationError(f"not a psycopg connection: {connection!r}")

    def announce(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))

    def first_candidate(
        self, conn: psycopg.Connection[Any], statement: str, params: Mapping[str, Any]
    ) -> bool:
        with conn.transaction():  # the claim's plan settings hold until the transaction ends
            conn.execute(f"SELECT {_PLAN}")
            return super().first_candidate(conn, statement, params)

    def claim(self, conn: psycopg.Connection[Any], request: ClaimRequest) -> list[Job]:
        conn.execute(_CLAIM_PREAMBLE, (CLAIM_LOCK,))
        statement = claim_statement(len(request.queues))
        return [row_to_job(r) for r in conn.execute(statement, claim_params(request)).fetchall()]

    def insert_bulk(
        self, template: NewJob, ids: Sequence[str], args: Iterable[dict[str, Any]]
    ) -> None:
        def copy(conn: psycopg.Connection[Any]) -> None:
            cursor = conn.cursor()
            # A writer thread sends while this one encodes rows: the server ingests in parallel.
            writer = QueuedLibpqWriter(cursor)
            with cursor.copy(_COPY, writer=writer) as copy:
                for row in insert_rows(template, ids, args):
                    copy.write_row(row)
            self.announce(conn)

        self.run(copy)
        self.wake_local()

    def watch(self, on_signal: Callable[[], None]) -> NotifyWatcher:
        return NotifyWatcher(self, CHANNEL, lambda _: on_signal(), local_channel=WORK)

    shared_changes = True

    def announce_changes(self, conn: psycopg.Connection[Any], job_ids: Sequence[str]) -> None:
        # Ids travel comma-joined, _IDS_PER_NOTIFY to a payload (under NOTIFY's 8,000 bytes):
        # a worker's batch is one or two notifications to queue and to read, not one per job.
        payloads = [
            ",".join(job_ids[i : i + _IDS_PER_NOTIFY])
            for i in range(0, len(job_ids), _IDS_PER_NOTIFY)
        ]
        conn.execute(
            "SELECT pg_notify(%s, ids) FROM unnest(%s::text[]) AS ids", (CHANGES_CHANNEL, payloads)
        )

    def watch_changes(self, on_change: Callable[[str], None]) -> NotifyWatcher:
        def each_id(payload: str) -> None:
            for job_id in payload.split(","):  # "" stays "": announcements may have been lost
                on_change(job_id)

        return NotifyWatcher(self, CHANGES_CHANNEL, each_id, local_channel=CHANGES)


class NotifyWatcher:
    """LISTENs on its own connection and forwards each payload; reconnects on loss.

    After every (re)connection it also calls back with an empty payload, because whatever was
    sent while it was away is lost.
    """

    def __init__(
        self,
        backend: PostgresBackend,
        channel: str,
        on_payload: Callable[[str], None],
        local_channel: str | None = None,
    ) -> None:
        self._backend = backend
        self._channel = channel
        self._on_payload = on_payload
        self._stop = threading.Event()
        self._unsubscribe = (
            subscribe(local_channel, backend.url, on_payload) if local_channel else lambda: None
        )
        self._thread = threading.Thread(target=self._listen, name="lf-pg-listen", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with self._backend.connect() as conn:
                    conn.execute(f"LISTEN {self._channel}")
                    self._on_payload("")
                    while not self._stop.is_set():
                        for notification in conn.notifies(timeout=0.5):
                            self._on_payload(notification.payload)
            except psycopg.Error:
                self._stop.wait(1.0)

    def close(self) -> None:
        self._unsubscribe()
        self._stop.set()
        self._thread.join(timeout=2)
