"""fast models: the models people train or import (``fast_models``), and on ``jobs`` a
training job's last committed checkpoint and a job's own copy of the model it paints with
(or, for a training that adds styles, starts from).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-15 09:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('fast_models',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('preview_path', sa.String(length=255), nullable=True),
    sa.Column('style_names', sa.JSON(), nullable=False),
    sa.Column('style_thumbs', sa.JSON(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('shared', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('fast_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fast_models_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fast_models_owner_id'), ['owner_id'], unique=False)

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkpoint_path', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('model_path', sa.String(length=255), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('model_path')
        batch_op.drop_column('checkpoint_path')

    with op.batch_alter_table('fast_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fast_models_owner_id'))
        batch_op.drop_index(batch_op.f('ix_fast_models_job_id'))

    op.drop_table('fast_models')
