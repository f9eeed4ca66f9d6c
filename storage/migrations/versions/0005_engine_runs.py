"""engine_runs: one record per flow run of the engine, for `casebridge engine status`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('engine_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('flow', sa.String(length=80), nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=False),
    sa.Column('runner', sa.String(length=120), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('summary', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engine_runs')),
    sa.UniqueConstraint('flow_run_id', name=op.f('uq_engine_runs_flow_run_id'))
    )
    op.create_index('ix_engine_runs_flow_started', 'engine_runs', ['flow', 'started_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_engine_runs_flow_started', table_name='engine_runs')
    op.drop_table('engine_runs')
