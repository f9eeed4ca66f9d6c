"""agency_webhooks: an agency's own system, told of actions and referrals by signed POST.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agency_webhooks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('events', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("url LIKE 'https://%' OR url LIKE 'http://%'", name=op.f('ck_agency_webhooks_url_is_http')),
    sa.CheckConstraint('length(secret) >= 32', name=op.f('ck_agency_webhooks_secret_long_enough')),
    sa.CheckConstraint('active = (disabled_at IS NULL)', name=op.f('ck_agency_webhooks_disabled_at_iff_inactive')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_agency_webhooks_agency_id_agencies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_agency_webhooks_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_webhooks'))
    )
    op.create_index(op.f('ix_agency_webhooks_agency_id'), 'agency_webhooks', ['agency_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_agency_webhooks_agency_id'), table_name='agency_webhooks')
    op.drop_table('agency_webhooks')
