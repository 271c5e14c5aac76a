"""Alembic environment for the books' tables (version table ``lf_books_alembic_version``).

The database is shared with the job runtime (``lf_jobs``, ``lf_workers``, ...), which has its
own migrations; this environment only compares and changes tables declared in the books' models.
"""

from ledgerflow.books.db import VERSION_TABLE
from ledgerflow.books.models import Base
from ledgerflow.jobs.migrate import run_environment

run_environment(Base.metadata, VERSION_TABLE, lock_id=0x1F_B00C_0001)
