"""account security: two-factor (TOTP secret, last used step, recovery codes), a session
epoch that ends every session of a user when bumped, and hashed password reset tokens.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('password_resets',
    sa.Column('id', BigIntKey, nullable=False),
    sa.Column('user_id', BigIntKey, nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_resets_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_resets')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_password_resets_token_hash'))
    )
    op.create_index(op.f('ix_password_resets_user_id'), 'password_resets', ['user_id'], unique=False)
    op.create_table('recovery_codes',
    sa.Column('id', BigIntKey, nullable=False),
    sa.Column('user_id', BigIntKey, nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    op.create_index(op.f('ix_recovery_codes_user_id'), 'recovery_codes', ['user_id'], unique=False)
    # Plain ADD/DROP COLUMN (SQLite has both natively): a batch would copy the users table,
    # and dropping it fails while other tables' rows refer to it.
    op.add_column('users', sa.Column('session_epoch', sa.Integer(), nullable=False,
                                     server_default='0'))
    op.add_column('users', sa.Column('totp_secret', sa.String(length=64), nullable=True))
    op.add_column('users', sa.Column('totp_enrolled_at', storage.base.UTCDateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('totp_last_step', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('users', 'totp_last_step')
    op.drop_column('users', 'totp_enrolled_at')
    op.drop_column('users', 'totp_secret')
    op.drop_column('users', 'session_epoch')
    op.drop_index(op.f('ix_recovery_codes_user_id'), table_name='recovery_codes')
    op.drop_table('recovery_codes')
    op.drop_index(op.f('ix_password_resets_user_id'), table_name='password_resets')
    op.drop_table('password_resets')
