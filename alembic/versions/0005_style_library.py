"""style library: one row per distinct style image (by content hash) and which jobs used it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 09:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('styles',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('thumb_path', sa.String(length=255), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=True),
    sa.Column('curated', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('hidden', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    op.create_table('job_styles',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('style_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['style_id'], ['styles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'position')
    )
    with op.batch_alter_table('job_styles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_styles_style_id'), ['style_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('job_styles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_styles_style_id'))
    op.drop_table('job_styles')
    op.drop_table('styles')
