"""Alembic environment for the job runtime's tables (version table ``lf_jobs_alembic_version``)."""

from ledgerflow.jobs.migrate import VERSION_TABLE, run_environment
from ledgerflow.jobs.schema import metadata

run_environment(metadata, VERSION_TABLE, lock_id=0x1F_0B5_0001)
