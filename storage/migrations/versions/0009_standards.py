"""standards and escalation ladders: published standards versions, a calendar table with
running working-day numbers, case pause periods, standard escalations (unique key), daily
digest items, and the agencies' single points of contact and the partnership leads.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 23:21:06.991062
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_days',
    sa.Column('calendar', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('day_number', sa.Integer(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('wd_number', sa.Integer(), nullable=False),
    sa.Column('begins_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('calendar', 'day', name=op.f('pk_calendar_days'))
    )
    with op.batch_alter_table('calendar_days', schema=None) as batch_op:
        batch_op.create_index('ix_calendar_days_ends', ['calendar', 'ends_at'], unique=False)
        batch_op.create_index('ix_calendar_days_working_number', ['calendar', 'wd_number', 'working'], unique=False)

    op.create_table('escalation_contacts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('spoc', 'partnership_lead', name='contactkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'spoc') = (agency_id IS NOT NULL)", name=op.f('ck_escalation_contacts_spoc_has_agency')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_escalation_contacts_agency_id_agencies')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_escalation_contacts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_contacts')),
    sa.UniqueConstraint('kind', 'agency_id', 'user_id', name=op.f('uq_escalation_contacts_kind_agency_id_user_id'))
    )
    with op.batch_alter_table('escalation_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_contacts_agency_id'), ['agency_id'], unique=False)

    op.create_table('standards_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('partnership', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('source_name', sa.String(length=300), nullable=False),
    sa.Column('calendar_key', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('published', 'retired', name='standardsstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint('length(content_hash) = 64', name=op.f('ck_standards_versions_content_hash_sha256')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_standards_versions_version_positive')),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_standards_versions_published_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standards_versions')),
    sa.UniqueConstraint('partnership', 'version', name=op.f('uq_standards_versions_partnership_version'))
    )
    op.create_table('case_pauses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('resumed_at IS NULL OR resumed_at >= paused_at', name=op.f('ck_case_pauses_resumed_after_paused')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_pauses_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_pauses'))
    )
    with op.batch_alter_table('case_pauses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_pauses_case_id'), ['case_id'], unique=False)

    op.create_table('standard_escalations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('standards_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('standard', sa.String(length=60), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipient_user_ids', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('digest_user_ids', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('notify_agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('level >= 0', name=op.f('ck_standard_escalations_level_not_negative')),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_standard_escalations_action_id_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_standard_escalations_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notify_agency_id'], ['agencies.id'], name=op.f('fk_standard_escalations_notify_agency_id_agencies')),
    sa.ForeignKeyConstraint(['standards_version_id'], ['standards_versions.id'], name=op.f('fk_standard_escalations_standards_version_id_standards_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standard_escalations')),
    sa.UniqueConstraint('key', name=op.f('uq_standard_escalations_key'))
    )
    with op.batch_alter_table('standard_escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standard_escalations_action_id'), ['action_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_standard_escalations_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_standard_escalations_standard', ['standard', 'created_at'], unique=False)

    op.create_table('escalation_digest_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('escalation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('digest_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['escalation_id'], ['standard_escalations.id'], name=op.f('fk_escalation_digest_items_escalation_id_standard_escalations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_escalation_digest_items_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_digest_items')),
    sa.UniqueConstraint('escalation_id', 'user_id', name=op.f('uq_escalation_digest_items_escalation_id_user_id'))
    )
    with op.batch_alter_table('escalation_digest_items', schema=None) as batch_op:
        batch_op.create_index('ix_escalation_digest_items_pending', ['user_id', 'digest_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('escalation_digest_items', schema=None) as batch_op:
        batch_op.drop_index('ix_escalation_digest_items_pending')

    op.drop_table('escalation_digest_items')
    with op.batch_alter_table('standard_escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_standard_escalations_standard')
        batch_op.drop_index(batch_op.f('ix_standard_escalations_case_id'))
        batch_op.drop_index(batch_op.f('ix_standard_escalations_action_id'))

    op.drop_table('standard_escalations')
    with op.batch_alter_table('case_pauses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_pauses_case_id'))

    op.drop_table('case_pauses')
    op.drop_table('standards_versions')
    with op.batch_alter_table('escalation_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_contacts_agency_id'))

    op.drop_table('escalation_contacts')
    with op.batch_alter_table('calendar_days', schema=None) as batch_op:
        batch_op.drop_index('ix_calendar_days_working_number')
        batch_op.drop_index('ix_calendar_days_ends')

    op.drop_table('calendar_days')
