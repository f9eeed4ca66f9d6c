"""escalations: each deadline escalation recorded once (unique key), and an index on the
warning point of active stages for the deadline sweep.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('escalations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stage_instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('level', sa.Enum('warning', 'breach', name='level', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipient_user_ids', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('notify_agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(stage_instance_id IS NULL) <> (action_id IS NULL)', name=op.f('ck_escalations_one_deadline')),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_escalations_action_id_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_escalations_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notify_agency_id'], ['agencies.id'], name=op.f('fk_escalations_notify_agency_id_agencies')),
    sa.ForeignKeyConstraint(['stage_instance_id'], ['stage_instances.id'], name=op.f('fk_escalations_stage_instance_id_stage_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations')),
    sa.UniqueConstraint('key', name=op.f('uq_escalations_key'))
    )
    op.create_index(op.f('ix_escalations_action_id'), 'escalations', ['action_id'], unique=False)
    op.create_index(op.f('ix_escalations_case_id'), 'escalations', ['case_id'], unique=False)
    op.create_index(op.f('ix_escalations_stage_instance_id'), 'escalations', ['stage_instance_id'], unique=False)
    active = sa.text("status = 'active'")
    op.create_index('ix_stage_instances_active_warn', 'stage_instances', ['warn_at'], postgresql_where=active, sqlite_where=active)


def downgrade() -> None:
    op.drop_index('ix_stage_instances_active_warn', table_name='stage_instances')
    op.drop_index(op.f('ix_escalations_stage_instance_id'), table_name='escalations')
    op.drop_index(op.f('ix_escalations_case_id'), table_name='escalations')
    op.drop_index(op.f('ix_escalations_action_id'), table_name='escalations')
    op.drop_table('escalations')
