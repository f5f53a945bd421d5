"""jobs.mask_path (the brushed mask a picture was made under), jobs.parent_id and
jobs.derivation (a job made from another: an Enhance or a Go deeper of it) and
jobs.start_path (the picture an Enhance of a painterly result starts from).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 11:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: Union[str, None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mask_path', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('start_path', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('derivation', sa.String(length=16), nullable=True))
        batch_op.create_foreign_key('fk_jobs_parent_id', 'jobs', ['parent_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index('ix_jobs_parent_id', ['parent_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_parent_id')
        batch_op.drop_constraint('fk_jobs_parent_id', type_='foreignkey')
        batch_op.drop_column('derivation')
        batch_op.drop_column('parent_id')
        batch_op.drop_column('start_path')
        batch_op.drop_column('mask_path')
