"""documents.outbox_key: the outbox row that made a document (a letter), unique.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column and a unique index: both SQLite and PostgreSQL add them in place
    # (no table rebuild), and NULLs (every uploaded document) never collide.
    op.add_column('documents', sa.Column('outbox_key', sa.String(length=200), nullable=True))
    op.create_index(op.f('ix_documents_outbox_key'), 'documents', ['outbox_key'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_documents_outbox_key'), table_name='documents')
    op.drop_column('documents', 'outbox_key')
