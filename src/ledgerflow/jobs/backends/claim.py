"""The claim's candidate query, shared by the engines, with ``:name`` placeholders.

Unkeyed jobs come from ordered index scans per queue: its top priority in run_at order, which
stops at ``:limit`` rows or at the first job not yet due, then its lower priorities. Jobs with
a concurrency key may run only while their key is under its limit, which is what keeps one
company's flood of jobs from filling every slot: a job is a candidate when its rank in its
key's line (pending, due, in the claimed queues; priority, then age) fits in the key's free
slots. A key's limit is that of its first pending job; a job whose own limit is lower also
waits until the key fits under it.

The keyed candidates come from a walk of the keys that have pending jobs, one index seek each
(a "loose index scan" of ``lf_jobs_claim_keyed``), and each key's line is read only as deep as
it has free slots. A key's first job comes before all its others, so when ``:limit`` due first
jobs of other keys come before it, the key can give this claim nothing and its line is not
read: a small claim reads few lines. So a claim costs a few microseconds per key with pending
jobs, however deep their lines are. Ranking every pending keyed job in one ordered pass costs
about as much per job as the walk does per key: up to 1.7× less with one job per key, but 100
to 250 times more with 1,000 jobs per key (docs/benchmarks.md, "Many keys").
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..backend import ClaimRequest
from ..schema import CLAIMABLE
from ..schema import CLAIMABLE_KEYED as KEYED

ORDER = "ORDER BY priority DESC, run_at, id"
KEY_ORDER = "ORDER BY concurrency_key, priority DESC, run_at, id"
CLAIM_SET = (
    "status = 'running', attempts = attempts + 1, started_at = :now, worker_id = :worker,"
    " lease_expires_at = :lease, progress = 0, message = NULL, revision = revision + 1"
)

_PENDING = "status = 'pending' AND run_at <= :now"


def _walk(queues: str, lateral: bool) -> str:
    """The keys with pending jobs, how many more each may run, and which of them to read."""
    # The index is ordered by key, then as the claim orders: the first entry past a key is the
    # next key's head, so one seek finds both the next key and its first pending job.
    head = "concurrency_key, concurrency_limit, priority, run_at, id, queue"
    after = f"FROM lf_jobs WHERE {KEYED} AND concurrency_key > keys.k {KEY_ORDER} LIMIT 1"
    if lateral:
        step = f"SELECT head.* FROM keys CROSS JOIN LATERAL (SELECT {head} {after}) AS head"
    else:  # the subquery finds the id in the index; the join reads that one row
        step = (
            f"SELECT {', '.join('head.' + c for c in head.split(', '))}"
            f" FROM keys JOIN lf_jobs head ON head.id = (SELECT id {after})"
        )
    return (
        "WITH RECURSIVE keys (k, lim, priority, run_at, id, queue) AS ("
        f"SELECT * FROM (SELECT {head} FROM lf_jobs WHERE {KEYED} {KEY_ORDER} LIMIT 1) AS first"
        f" UNION ALL {step}),"
        # One pass over the running jobs (few: what the workers hold), through lf_jobs_running.
        " running (k, n) AS (SELECT concurrency_key, count(*) FROM lf_jobs"
        " WHERE status = 'running' AND concurrency_key IS NOT NULL GROUP BY concurrency_key),"
        # A key's head (its first pending job) sets the key's limit and comes before all its
        # other jobs. MATERIALIZED: joined to the running counts once, for both of open's readers.
        " counted AS MATERIALIZED (SELECT keys.k, keys.lim, keys.priority, keys.run_at, keys.id,"
        " COALESCE(running.n, 0) AS running,"
        f" keys.run_at <= :now AND keys.queue IN ({queues}) AS ready FROM keys"
        " LEFT JOIN running ON running.k = keys.k),"
        " open AS (SELECT * FROM counted WHERE lim > running),"
        # A ready head of a key with room is a candidate itself. When :limit of them come
        # before a key's head, no job of that key can be taken: its line is not read.
        " cut AS (SELECT priority, run_at, id FROM open WHERE ready"
        f" {ORDER} LIMIT 1 OFFSET :limit - 1),"
        " free AS (SELECT open.k, open.running, open.lim - open.running AS slots FROM open"
        " LEFT JOIN cut ON TRUE WHERE cut.id IS NULL OR open.priority > cut.priority"
        " OR (open.priority = cut.priority AND (open.run_at < cut.run_at"
        " OR (open.run_at = cut.run_at AND open.id <= cut.id))))"
    )


def _unkeyed(i: int) -> str:
    """Queue ``:q{i}``'s due unkeyed jobs, best first, at most ``:limit``."""
    # Within one priority the index is in run_at order, so the queue's top priority is read
    # only up to its first job not yet due. Read in one pass, a queue's scheduled jobs were
    # read by every claim: 100,000 of them cost each claim 10-14 ms on SQLite, even an idle
    # worker's poll. Lower priorities are rarer and are read in one pass, as before.
    where = f"{CLAIMABLE} AND queue = :q{i}"
    top = f"(SELECT priority FROM lf_jobs WHERE {where} {ORDER} LIMIT 1)"
    return (
        f"SELECT * FROM (SELECT id, priority, run_at FROM lf_jobs WHERE {where}"
        f" AND priority = {top} AND run_at <= :now ORDER BY run_at, id LIMIT :limit) AS top{i}"
        f" UNION ALL SELECT * FROM (SELECT id, priority, run_at FROM lf_jobs WHERE {where}"
        f" AND priority < {top} AND run_at <= :now {ORDER} LIMIT :limit) AS rest{i}"
    )


@cache
def claim_candidates(queue_count: int, lateral: bool) -> str:
    """The ids a claim may take, best first, at most ``:limit``, for queues ``:q0``, ``:q1``...

    ``lateral`` cuts each key's line at its own depth (PostgreSQL); SQLite cannot refer to the
    key in a ``LIMIT``, so it reads every line to the deepest one's depth and drops the
    surplus by rank.
    """
    unkeyed = " UNION ALL ".join(_unkeyed(i) for i in range(queue_count))
    queues = ", ".join(f":q{i}" for i in range(queue_count))
    line = f"FROM lf_jobs WHERE {_PENDING} AND concurrency_key = free.k AND queue IN ({queues})"
    if lateral:
        walked = (
            "SELECT line.id, line.priority, line.run_at FROM free, LATERAL (SELECT id,"
            f" priority, run_at, concurrency_limit, ROW_NUMBER() OVER ({ORDER}) AS rank"
            f" {line} {ORDER} LIMIT free.slots) AS line"
            " WHERE line.rank <= line.concurrency_limit - free.running"
        )
    else:
        walked = (
            "SELECT id, priority, run_at FROM (SELECT j.id, j.priority, j.run_at, free.slots,"
            " j.concurrency_limit - free.running AS room, ROW_NUMBER() OVER (PARTITION BY"
            f" free.k ORDER BY j.priority DESC, j.run_at, j.id) AS rank FROM free JOIN lf_jobs j"
            f" ON j.id IN (SELECT id {line} {ORDER} LIMIT (SELECT max(slots) FROM free))"
            ") AS line WHERE rank <= slots AND rank <= room"
        )
    return (
        f"{_walk(queues, lateral)} SELECT id FROM ({unkeyed} UNION ALL {walked})"
        f" AS candidates {ORDER} LIMIT :limit"
    )


def claim_params(request: ClaimRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "now": request.now,
        "worker": request.worker_id,
        "lease": request.lease_until,
        "limit": request.limit,
    }
    params.update((f"q{i}", queue) for i, queue in enumerate(request.queues))
    return params
