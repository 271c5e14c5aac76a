"""``SqlBackend``: the Backend protocol over a DB-API driver, shared by every engine.

What differs by engine (connecting, transactions, the claim, bulk insert, leadership,
wake-ups) is left to the subclasses in ``sqlite.py`` and ``postgres.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import cached_property, partial
from typing import Any, Generic, TypeVar

from ..backend import ClaimRequest, RescueReport
from ..models import (
    HeldJob,
    Job,
    ListFilter,
    NewJob,
    Outcome,
    OutcomeKind,
    ProgressUpdate,
    QueueStats,
    RunTimes,
    WorkerInfo,
)
from ..notify import CHANGES, WORK, publish
from .claim import claim_candidates, claim_params
from .pool import Pool
from .statements import (
    BEAT,
    CANCEL_PENDING,
    CANCEL_RUNNING,
    COUNTS,
    EXTEND_LEASES,
    FINISH,
    HELD,
    INSERT_JOB,
    INSERT_JOB_IDEMPOTENT,
    LEAD,
    OUTCOME_COLUMNS,
    PROGRESS,
    PROGRESS_COLUMNS,
    RESCUE,
    RUN_SECONDS,
    RUN_SECONDS_BUCKETS,
    SELECT_BY_ID,
    SELECT_BY_KEY,
    STOP_WORKER,
    SWEEP_JOBS,
    SWEEP_WORKERS,
    WORKERS,
    dumps,
    insert_params,
    list_query,
    outcome_row,
    pending_job,
    progress_row,
    row_to_job,
)

C = TypeVar("C")
T = TypeVar("T")
Row = Sequence[Any]


class SqlBackend(ABC, Generic[C]):
    """Shared statements over a DB-API driver; engines fill in the abstract hooks."""

    url: str
    greatest: str
    driver_errors: tuple[type[BaseException], ...]
    lateral: bool  # LATERAL joins: the claim cuts each key's line at its own depth

    def __init__(self, url: str, pool_size: int, pool_timeout: float) -> None:
        self.url = url
        self.pool: Pool[C] = Pool(
            self.connect,
            self.close_connection,
            self.is_usable,
            max_open=pool_size,
            timeout=pool_timeout,
        )

    # --- engine hooks -------------------------------------------------------------------
    @abstractmethod
    def connect(self) -> C: ...

    @abstractmethod
    def close_connection(self, conn: C) -> None: ...

    @abstractmethod
    def is_usable(self, conn: C) -> bool: ...

    @abstractmethod
    def write(self, conn: C) -> AbstractContextManager[None]:
        """A write transaction on ``conn``, committed on success and rolled back on error."""

    @abstractmethod
    def sql(self, statement: str) -> str:
        """The statement in the driver's paramstyle."""

    @abstractmethod
    def claim(self, conn: C, request: ClaimRequest) -> list[Job]: ...

    @abstractmethod
    def rows_table(self, columns: Mapping[str, str]) -> str:
        """``:rows``, a JSON array of objects, as a table ``v`` of these columns and types."""

    @abstractmethod
    def driver_connection(self, connection: object) -> C:
        """The driver connection behind a caller's connection (DB-API or SQLAlchemy)."""

    shared_changes: bool

    @abstractmethod
    def announce_changes(self, conn: C, job_ids: Sequence[str]) -> None:
        """Tell other processes, inside the current transaction, which jobs changed."""

    @abstractmethod
    def announce(self, conn: C) -> None:
        """Tell other processes, inside the current transaction, that work was enqueued."""

    # --- helpers ------------------------------------------------------------------------
    def execute(self, conn: C, statement: str, params: Any = ()) -> Any:
        cursor = conn.cursor()  # type: ignore[attr-defined]
        cursor.execute(self.sql(statement), params)
        return cursor

    def executemany(self, conn: C, statement: str, params: Sequence[Any]) -> None:
        if params:
            conn.cursor().executemany(self.sql(statement), params)  # type: ignore[attr-defined]

    def run(self, fn: Callable[[C], T], *, write: bool = True) -> T:
        """Run ``fn`` on a pooled connection, in a write transaction unless ``write=False``."""
        from ..errors import BackendError

        try:
            with self.pool.connection() as conn:
                if not write:
                    return fn(conn)
                with self.write(conn):
                    return fn(conn)
        except self.driver_errors as exc:
            raise BackendError(f"{type(exc).__name__}: {exc}".strip()) from exc

    # --- the Backend protocol -------------------------------------------------------------
    def close(self) -> None:
        self.pool.close()

    def migrate(self) -> None:
        from ..errors import BackendError
        from ..migrate import HEAD, VERSION_TABLE, upgrade

        try:
            row = self.run(
                lambda c: self.execute(c, f"SELECT version_num FROM {VERSION_TABLE}").fetchone(),
                write=False,
            )
        except BackendError:
            row = None
        if row is None or row[0] != HEAD:
            upgrade(self.url)

    def insert(self, jobs: Sequence[NewJob], connection: object | None = None) -> list[Job]:
        def insert_all(conn: C) -> list[Job]:
            inserted: list[Job] = []
            plain = [insert_params(j) for j in jobs if j.idempotency_key is None]
            self.executemany(conn, INSERT_JOB, plain)
            for job in jobs:
                if job.idempotency_key is None:
                    inserted.append(pending_job(job))
                    continue
                cursor = self.execute(conn, INSERT_JOB_IDEMPOTENT, insert_params(job))
                if cursor.rowcount == 1:
                    inserted.append(pending_job(job))
                else:
                    key = {"company_id": job.company_id, "key": job.idempotency_key}
                    inserted.append(row_to_job(self.execute(conn, SELECT_BY_KEY, key).fetchone()))
            self.announce(conn)
            return inserted

        if connection is not None:
            from ..errors import BackendError

            try:
                return insert_all(self.driver_connection(connection))
            except self.driver_errors as exc:
                raise BackendError(str(exc)) from exc
        result: list[Job] = self.run(insert_all)
        self.wake_local()
        return result

    def get(self, job_id: str) -> Job | None:
        row = self.run(
            lambda c: self.execute(c, SELECT_BY_ID, {"id": job_id}).fetchone(), write=False
        )
        return None if row is None else row_to_job(row)

    def list_jobs(self, flt: ListFilter) -> list[Job]:
        statement, params = list_query(flt)
        rows = self.run(lambda c: self.execute(c, statement, params).fetchall(), write=False)
        return [row_to_job(r) for r in rows]

    def cancel(self, job_id: str, now: float) -> Job | None:
        after: list[Callable[[], None]] = []

        def cancel(conn: C) -> Row | None:
            changed = self.execute(conn, CANCEL_PENDING, {"id": job_id, "now": now}).rowcount
            changed += self.execute(conn, CANCEL_RUNNING, {"id": job_id}).rowcount
            if changed:
                after.append(self.changed(conn, [job_id]))
            return self.execute(conn, SELECT_BY_ID, {"id": job_id}).fetchone()  # type: ignore[no-any-return]

        row = self.run(cancel)
        for publish_changes in after:
            publish_changes()
        self.wake_local()
        return None if row is None else row_to_job(row)

    def exchange(
        self,
        outcomes: Sequence[Outcome],
        progress: Sequence[ProgressUpdate],
        claim: ClaimRequest | None,
    ) -> list[Job]:
        if (
            claim is not None
            and claim.poll
            and not (outcomes or progress)
            and not self.has_ready(claim)
        ):
            return []

        finish, write_progress = self._batched_writes

        def exchange(conn: C) -> list[Job]:
            for kind, statement in finish.items():
                rows = [outcome_row(o) for o in outcomes if o.kind is kind]
                if rows:
                    self.execute(conn, statement, {"rows": dumps(rows)})
            if progress:
                rows = [progress_row(p) for p in progress]
                self.execute(conn, write_progress, {"rows": dumps(rows)})
            jobs = self.claim(conn, claim) if claim is not None else []
            changed = [o.job_id for o in outcomes] + [p.job_id for p in progress]
            after.append(self.changed(conn, changed + [j.id for j in jobs]))
            return jobs

        after: list[Callable[[], None]] = []
        claimed: list[Job] = self.run(exchange)
        for publish_changes in after:
            publish_changes()
        return claimed

    @cached_property
    def _batched_writes(self) -> tuple[dict[OutcomeKind, str], str]:
        """The worker's batch statements (per kind of outcome, and progress) in this engine's
        dialect, built once instead of on every exchange."""
        outcome_rows = self.rows_table(OUTCOME_COLUMNS)
        finish = {kind: statement.format(rows=outcome_rows) for kind, statement in FINISH.items()}
        progress_rows = self.rows_table(PROGRESS_COLUMNS)
        return finish, PROGRESS.format(greatest=self.greatest, rows=progress_rows)

    def has_ready(self, request: ClaimRequest) -> bool:
        """Whether ``request`` would claim a job, read without a write transaction or the claim
        lock: what an idle worker's poll asks first. It is the claim's own query, so it reads
        the indexes the claim reads, as little of them, and respects the same limits."""
        statement = claim_candidates(len(request.queues), self.lateral)
        params = {**claim_params(request), "limit": 1}
        return self.run(lambda c: self.first_candidate(c, statement, params), write=False)

    def first_candidate(self, conn: C, statement: str, params: Mapping[str, Any]) -> bool:
        return self.execute(conn, statement, params).fetchone() is not None

    def held(self, worker_id: str) -> dict[str, HeldJob]:
        rows = self.run(lambda c: self.execute(c, HELD, {"id": worker_id}).fetchall(), write=False)
        return {job_id: HeldJob(bool(flag), attempt) for job_id, flag, attempt in rows}

    def heartbeat(self, worker: WorkerInfo, lease_until: float) -> dict[str, HeldJob]:
        params = {
            "id": worker.id,
            "host": worker.host,
            "pid": worker.pid,
            "queues": ",".join(worker.queues),
            "concurrency": worker.concurrency,
            "started_at": worker.started_at,
            "now": worker.heartbeat_at,
            "lease": lease_until,
        }

        def beat(conn: C) -> dict[str, HeldJob]:
            self.execute(conn, BEAT, params)
            self.execute(conn, EXTEND_LEASES, params)
            rows = self.execute(conn, HELD, params).fetchall()
            return {job_id: HeldJob(bool(flag), attempt) for job_id, flag, attempt in rows}

        held: dict[str, HeldJob] = self.run(beat)
        return held

    def stop_worker(self, worker_id: str, now: float) -> None:
        self.run(lambda c: self.execute(c, STOP_WORKER, {"id": worker_id, "now": now}))

    def workers(self) -> list[WorkerInfo]:
        rows = self.run(lambda c: self.execute(c, WORKERS).fetchall(), write=False)
        return [
            WorkerInfo(
                id=r[0],
                host=r[1],
                pid=r[2],
                queues=tuple(r[3].split(",")),
                concurrency=r[4],
                started_at=r[5],
                heartbeat_at=r[6],
                stopped_at=r[7],
                running_jobs=r[8],
            )
            for r in rows
        ]

    def stats(self, since: float) -> QueueStats:
        def read(conn: C) -> QueueStats:
            counts = {(t, s): n for t, s, n in self.execute(conn, COUNTS).fetchall()}
            runs = {
                row[0]: RunTimes(row[1], row[2] or 0.0, tuple(row[3:]))
                for row in self.execute(conn, RUN_SECONDS, {"since": since}).fetchall()
            }
            return QueueStats(counts, runs, RUN_SECONDS_BUCKETS)

        return self.run(read, write=False)

    def rescue(self, now: float, page_size: int) -> RescueReport:
        error = "The worker running this job stopped responding (no heartbeat); it was released."
        counts = {"pending": 0, "failed": 0, "cancelled": 0}
        params = {"now": now, "page": page_size, "error": error}
        after: list[Callable[[], None]] = []

        def rescue_page(conn: C) -> list[Row]:
            rows: list[Row] = self.execute(conn, RESCUE, params).fetchall()
            after.append(self.changed(conn, [job_id for job_id, _ in rows]))
            return rows

        while True:
            rows = self.run(rescue_page)
            for _, status in rows:
                counts[status] += 1
            if len(rows) < page_size:
                break
        for publish_changes in after:
            publish_changes()
        if counts["pending"]:
            self.wake_local()
        return RescueReport(counts["pending"], counts["failed"], counts["cancelled"])

    def sweep(self, finished_before: float, page_size: int) -> int:
        deleted = 0
        params = {"before": finished_before, "page": page_size}
        while True:
            count: int = self.run(lambda c: self.execute(c, SWEEP_JOBS, params).rowcount)
            deleted += count
            if count < page_size:
                break
        self.run(lambda c: self.execute(c, SWEEP_WORKERS, {"before": finished_before}))
        return deleted

    def try_lead(self, holder: str, now: float, ttl: float) -> bool:
        params = {"holder": holder, "expires": now + ttl, "now": now}
        taken: bool = self.run(lambda c: self.execute(c, LEAD, params).rowcount == 1)
        return taken

    def wake_local(self) -> None:
        publish(WORK, self.url)

    def changed(self, conn: C, job_ids: Sequence[str]) -> Callable[[], None]:
        """Announce changed jobs inside the transaction; returns what to call after commit.

        That call tells this process's watchers at once: the caller's next read of a job it
        just changed must not be answered from a copy that waits for the announcement to
        come back over the network.
        """
        if not job_ids:
            return lambda: None
        self.announce_changes(conn, job_ids)
        return partial(publish, CHANGES, self.url, job_ids)
