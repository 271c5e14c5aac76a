"""lf_jobs_running_keyed is dropped: a claim counts its keys' running jobs from the rows

Revision ID: 0007
Revises: 0006

The index held one entry per running job with a concurrency key, for the claim's count of
running jobs per key. On PostgreSQL every claim added an entry per job and every completion
left it dead, so between vacuums the claim's count read hundreds of dead entries and their
table pages to find a few live ones (963 entries, 45 pages, 0 rows in one plan). The count
now reads the running rows through ``lf_jobs_running``: what the workers hold, at most a
claim's batch and a thread's job per worker.

Measured on 2026-12-06, claim-and-complete loops of 200-job exchanges over 20,000 jobs of 100
keys, two databases whose exchanges alternate (one without the index), medians of 6 pairs:
PostgreSQL +10.8 % jobs/s (jobs arriving mixed) and +3.3 % (in one block per company); the
same loop with both databases alike: 1.005. SQLite, 60,000 jobs: 0.998 and 1.003.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RUNNING_KEYED = "status = 'running' AND concurrency_key IS NOT NULL"


def upgrade() -> None:
    op.drop_index("lf_jobs_running_keyed", "lf_jobs", if_exists=True)


def downgrade() -> None:
    op.create_index(
        "lf_jobs_running_keyed",
        "lf_jobs",
        ["concurrency_key"],
        sqlite_where=sa.text(RUNNING_KEYED),
        postgresql_where=sa.text(RUNNING_KEYED),
        if_not_exists=True,
    )
