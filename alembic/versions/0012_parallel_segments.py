"""job_segments: a clip split into pieces that any free worker makes (app.db.segments).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 11:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('job_segments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('start_pts', sa.Integer(), nullable=False),
    sa.Column('end_pts', sa.Integer(), nullable=True),
    sa.Column('first_frame', sa.Integer(), nullable=False),
    sa.Column('frames', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('worker_id', sa.String(length=64), nullable=True),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('segment', sa.JSON(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_job_segments_job_number', 'job_segments', ['job_id', 'number'],
                    unique=True)
    op.create_index('ix_job_segments_state', 'job_segments', ['state', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_job_segments_state', table_name='job_segments')
    op.drop_index('ix_job_segments_job_number', table_name='job_segments')
    op.drop_table('job_segments')
