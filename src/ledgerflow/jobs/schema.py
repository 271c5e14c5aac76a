"""The runtime's tables, declared once for every engine.

Timestamps are stored as seconds since the epoch (double precision) on both engines: the SQL
that compares them is identical everywhere, with no time-zone conversions, and the clock is
the workers' own (hosts are expected to run NTP; leases are tens of seconds, so small skew is
harmless). JSON is stored as text for the same reason.

Invariants live here, not only in code: a CHECK keeps ``finished_at`` set exactly for the
final states, and a partial unique index keeps an idempotency key unique per company.
"""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    cast,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()


def identifier(length: int) -> String:
    """A name or key, compared bytewise on every engine: under a linguistic collation each
    PostgreSQL index comparison went through the C library's (migration 0005)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def one_of(column: str, *values: str) -> str:
    """``column`` equals one of ``values``, written out as ORs. SQLite rebuilds the lookup
    table of an ``IN`` list of three or more values for every row a CHECK tests: as lists,
    these two CHECKs cost ~3 µs per written row, a quarter of a bulk insert's time."""
    return " OR ".join(f"{column} = '{value}'" for value in values)


STATUS = one_of("status", "pending", "running", "complete", "failed", "cancelled")
FINAL = one_of("status", "complete", "failed", "cancelled")

jobs = Table(
    "lf_jobs",
    metadata,
    Column("id", identifier(32), primary_key=True),
    Column("queue", identifier(64), nullable=False, server_default="default"),
    Column("task", identifier(200), nullable=False),
    Column("status", identifier(16), nullable=False, server_default="pending"),
    Column("args", Text, nullable=False, server_default="{}"),
    Column("meta", Text, nullable=False, server_default="{}"),
    Column("company_id", identifier(200), nullable=False, server_default=""),
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("message", Text),
    Column("result", Text),
    Column("error", Text),
    Column("traceback", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False, server_default="1"),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("timeout", Float(53), nullable=False, server_default="600"),
    Column("run_at", Float(53), nullable=False),
    Column("created_at", Float(53), nullable=False),
    Column("started_at", Float(53)),
    Column("finished_at", Float(53)),
    Column("lease_expires_at", Float(53)),
    Column("worker_id", identifier(32)),
    Column("idempotency_key", identifier(200)),
    Column("concurrency_key", identifier(200)),
    Column("concurrency_limit", Integer),
    Column("cancel_requested", Boolean, nullable=False, server_default=text("false")),
    Column("revision", Integer, nullable=False, server_default="0"),
    CheckConstraint(STATUS, name="lf_jobs_status"),
    CheckConstraint(f"({FINAL}) = (finished_at IS NOT NULL)", name="lf_jobs_finished_at"),
    CheckConstraint(
        "status <> 'running' OR (started_at IS NOT NULL AND worker_id IS NOT NULL"
        " AND lease_expires_at IS NOT NULL)",
        name="lf_jobs_running_is_held",
    ),
    CheckConstraint("progress BETWEEN 0 AND 100", name="lf_jobs_progress"),
    CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="lf_jobs_attempts"),
    CheckConstraint(
        "concurrency_limit IS NULL OR concurrency_limit >= 1", name="lf_jobs_concurrency_limit"
    ),
)

# The partial indexes' conditions, shared with the queries that must state them to use them.
CLAIMABLE = "status = 'pending' AND concurrency_key IS NULL"
CLAIMABLE_KEYED = "status = 'pending' AND concurrency_key IS NOT NULL"
IS_RUNNING = "status = 'running'"
Index(
    "lf_jobs_claim",
    jobs.c.queue,
    jobs.c.priority.desc(),
    jobs.c.run_at,
    jobs.c.id,
    sqlite_where=text(CLAIMABLE),
    postgresql_where=text(CLAIMABLE),
)
Index(
    "lf_jobs_claim_keyed",
    jobs.c.concurrency_key,
    jobs.c.priority.desc(),
    jobs.c.run_at,
    jobs.c.id,
    sqlite_where=text(CLAIMABLE_KEYED),
    postgresql_where=text(CLAIMABLE_KEYED),
)
Index(
    "lf_jobs_running",
    jobs.c.worker_id,
    sqlite_where=text(IS_RUNNING),
    postgresql_where=text(IS_RUNNING),
)
Index(
    "lf_jobs_lease",
    jobs.c.lease_expires_at,
    sqlite_where=text(IS_RUNNING),
    postgresql_where=text(IS_RUNNING),
)
Index(
    "lf_jobs_finished",
    jobs.c.finished_at,
    sqlite_where=text("finished_at IS NOT NULL"),
    postgresql_where=text("finished_at IS NOT NULL"),
)
# A company's jobs newest first; the status is filtered on the rows. With the status in the key
# (0001–0005) every claim and completion moved the job's entry to its company's pages: a batch
# of jobs from 78 companies wrote 78 more pages on SQLite (migration 0006).
Index("lf_jobs_company", jobs.c.company_id, jobs.c.id)
Index(
    "lf_jobs_idempotency",
    jobs.c.company_id,
    jobs.c.idempotency_key,
    unique=True,
    sqlite_where=text("idempotency_key IS NOT NULL"),
    postgresql_where=text("idempotency_key IS NOT NULL"),
)
# The admin queries (``admin.py``): failed and cancelled jobs newest first, jobs of one type
# newest first, and jobs by the file name in their meta. That last one is an expression index:
# on PostgreSQL declared here; on SQLite, where SQLAlchemy cannot reflect expression indexes,
# it is ``json_extract(meta, '$.file_name')`` under the same name, made by migration 0002 and
# not declared here. Queue depth and overdue jobs read the claim and running indexes above.
UNSUCCESSFUL = "status IN ('failed', 'cancelled')"
HAS_FILE_NAME = "meta LIKE '%\"file_name\":%'"
Index(
    "lf_jobs_unsuccessful",
    jobs.c.status,
    jobs.c.id,
    sqlite_where=text(UNSUCCESSFUL),
    postgresql_where=text(UNSUCCESSFUL),
)
Index("lf_jobs_task", jobs.c.task, jobs.c.id)
Index(
    "lf_jobs_meta_file_name",
    cast(jobs.c.meta, JSONB)["file_name"].astext,
    postgresql_where=text(HAS_FILE_NAME),
).ddl_if(dialect="postgresql")

workers = Table(
    "lf_workers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("queues", Text, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("started_at", Float(53), nullable=False),
    Column("heartbeat_at", Float(53), nullable=False),
    Column("stopped_at", Float(53)),
)
Index("lf_workers_heartbeat", workers.c.heartbeat_at)

# One row per maintenance role on engines without advisory locks (SQLite): whoever holds an
# unexpired lease runs that role.
leases = Table(
    "lf_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(32), nullable=False),
    Column("expires_at", Float(53), nullable=False),
)
