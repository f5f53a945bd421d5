"""job_styles.shared: a job's style enters the public library only when its owner offered it
(ticked "add my style images to the public style library", or picked it from the library).
Rows from before are not offered: their uploads leave the library's listing (curated styles
stay), since nobody was asked. And an index on jobs.partial_path: the media route looks a
running clip's partial result up by it, as it does the other files.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14 12:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('job_styles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shared', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    op.create_index('ix_jobs_partial_path', 'jobs', ['partial_path'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_jobs_partial_path', table_name='jobs')
    with op.batch_alter_table('job_styles', schema=None) as batch_op:
        batch_op.drop_column('shared')
