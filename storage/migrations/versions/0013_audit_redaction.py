"""audit redaction: each entry gets the SHA-256 of its `changes` text (changes_digest), a
hash version and a redacted_at mark, so personal data past its retention can be blanked
without breaking the chain; verifications record how many entries were redacted.

Why a version column rather than re-hashing: the entries already in the table were hashed
over their `changes` text (version 1). Recomputing every entry_hash here over the new
digest would make the chain verify again, but the migration would then vouch for whatever
the table held at that moment: an entry edited before the upgrade would be sealed as
genuine, and the hashes an auditor may have copied out (exports, verification records)
would stop matching. So old rows keep their entry_hash and prev_hash untouched and are
marked hash_version 1 (verified over the text, exactly as before); new rows are version 2
(the hash covers changes_digest). The digest is filled in for old rows too, so a version 1
entry can later be redacted: `storage.audit.services.redact` checks it against its version
1 hash first, and the redaction entry's witness then proves it (see that module).

Downgrading drops the columns. Entries written since the upgrade (version 2) and entries
redacted since cannot be verified by the older code: `casebridge audit verify` from before
this revision reports them as altered. Downgrade only a database that was never used.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 03:10:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sha256_hex(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode('utf-8')).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changes_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('redacted_at', sa.DateTime(timezone=True), nullable=True))

    # One set-based UPDATE (the log may hold millions of rows), hashing in the database:
    # PostgreSQL has sha256(); SQLite gets the same function from Python for this connection.
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        digest = "encode(sha256(convert_to(changes, 'UTF8')), 'hex')"
    else:
        bind.connection.driver_connection.create_function(
            'casebridge_sha256', 1, _sha256_hex, deterministic=True)
        digest = 'casebridge_sha256(changes)'
    op.execute(f'UPDATE audit_entries SET hash_version = 1, changes_digest = {digest}')

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.alter_column('changes_digest', existing_type=sa.String(length=64),
                              nullable=False)
        batch_op.alter_column('hash_version', existing_type=sa.Integer(), nullable=False)
        batch_op.create_check_constraint(
            op.f('ck_audit_entries_changes_digest_sha256'), 'length(changes_digest) = 64')
        batch_op.create_check_constraint(
            op.f('ck_audit_entries_hash_version_known'), 'hash_version IN (1, 2)')

    with op.batch_alter_table('audit_verifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redacted', sa.BigInteger(), server_default=sa.text('0'),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('audit_verifications', schema=None) as batch_op:
        batch_op.drop_column('redacted')

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_audit_entries_hash_version_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_audit_entries_changes_digest_sha256'), type_='check')
        batch_op.drop_column('redacted_at')
        batch_op.drop_column('hash_version')
        batch_op.drop_column('changes_digest')
