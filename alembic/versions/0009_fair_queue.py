"""jobs.priority (the admin may move a job ahead of the fair order), jobs.frames (a clip's
frames: what its place in line weighs) and an index on (owner_id, started_at): the next job
goes to the person served longest ago.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), server_default=sa.text('0'),
                                      nullable=False))
        batch_op.add_column(sa.Column('frames', sa.Integer(), server_default=sa.text('1'),
                                      nullable=False))
    op.create_index('ix_jobs_owner_started', 'jobs', ['owner_id', 'started_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_jobs_owner_started', table_name='jobs')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('frames')
        batch_op.drop_column('priority')
