"""an index on jobs.deleted_at: the trash collector looks for due deletes every few seconds
in every web process, and My results and the gallery filter on it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-11 12:00:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_jobs_deleted_at', 'jobs', ['deleted_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_jobs_deleted_at', table_name='jobs')
