"""my results: titles, original names, private originals, moderation, undoable deletes,
strength previews, engine ETAs; owner keys to carry results to another browser

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 12:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PATH_INDEXES = ('content_path', 'result_path', 'thumb_path', 'preview_path')


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('title', sa.String(length=120), nullable=True))
        batch.add_column(sa.Column('content_name', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('style_names', sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))
        batch.add_column(sa.Column('show_original', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('hidden', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('strength_path', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('eta_at', sa.DateTime(timezone=True), nullable=True))
        for column in PATH_INDEXES:
            batch.create_index(f'ix_jobs_{column}', [column], unique=False)
    op.create_table('owner_keys',
                    sa.Column('owner_id', sa.String(length=64), nullable=False),
                    sa.Column('key_hash', sa.String(length=64), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('owner_id'),
                    sa.UniqueConstraint('key_hash'))


def downgrade() -> None:
    op.drop_table('owner_keys')
    with op.batch_alter_table('jobs') as batch:
        for column in PATH_INDEXES:
            batch.drop_index(f'ix_jobs_{column}')
        for column in ('eta_at', 'strength_path', 'deleted_at', 'hidden', 'show_original',
                       'style_names', 'content_name', 'title'):
            batch.drop_column(column)
