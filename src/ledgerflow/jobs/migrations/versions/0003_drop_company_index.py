"""drop lf_jobs_company: a company's jobs are listed from lf_jobs_company_status

Revision ID: 0003
Revises: 0002

Every insert, claim and completion updated both company indexes. Lists of a company's jobs
whatever their status now merge one ordered read of ``lf_jobs_company_status`` per status
(``statements.newest_first``), and each write has one index fewer to update.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("lf_jobs_company", "lf_jobs", if_exists=True)


def downgrade() -> None:
    op.create_index("lf_jobs_company", "lf_jobs", ["company_id", "id"], if_not_exists=True)
