"""information governance: the retention review list (closed cases past their retention
period, and each decision: deleted, or kept until a date with a reason), the record of audit
chain verifications, and an index for searching the audit log by agency.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_verifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_seq', sa.BigInteger(), nullable=False),
    sa.Column('to_seq', sa.BigInteger(), nullable=False),
    sa.Column('checked', sa.BigInteger(), nullable=False),
    sa.Column('intact', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor_label', sa.String(length=120), nullable=False),
    sa.CheckConstraint('to_seq >= from_seq - 1', name=op.f('ck_audit_verifications_range_in_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_verifications'))
    )
    with op.batch_alter_table('audit_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_verifications_verified_at'), ['verified_at'], unique=False)

    op.create_table('retention_reviews',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('case_reference', sa.String(length=32), nullable=False),
    sa.Column('case_type', sa.String(length=40), nullable=False),
    sa.Column('owning_agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.Enum('review', 'delete', name='retentionoutcome', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('rule_years', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'deleted', 'kept', name='reviewstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('keep_until', sa.Date(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status <> 'kept' OR (keep_until IS NOT NULL AND reason IS NOT NULL)", name=op.f('ck_retention_reviews_kept_has_date_and_reason')),
    sa.CheckConstraint("status = 'pending' OR decided_at IS NOT NULL", name=op.f('ck_retention_reviews_decided_has_time')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_retention_reviews_case_id_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_retention_reviews_decided_by_id_users')),
    sa.ForeignKeyConstraint(['owning_agency_id'], ['agencies.id'], name=op.f('fk_retention_reviews_owning_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_reviews'))
    )
    with op.batch_alter_table('retention_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_reviews_owning_agency_id'), ['owning_agency_id'], unique=False)
        batch_op.create_index('ix_retention_reviews_status', ['status', 'due_on'], unique=False)
        batch_op.create_index('uq_retention_reviews_case_due', ['case_id', 'due_on'], unique=True)

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_agency_seq', ['actor_agency_id', 'seq'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_agency_seq')

    with op.batch_alter_table('retention_reviews', schema=None) as batch_op:
        batch_op.drop_index('uq_retention_reviews_case_due')
        batch_op.drop_index('ix_retention_reviews_status')
        batch_op.drop_index(batch_op.f('ix_retention_reviews_owning_agency_id'))

    op.drop_table('retention_reviews')
    with op.batch_alter_table('audit_verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_verifications_verified_at'))

    op.drop_table('audit_verifications')
