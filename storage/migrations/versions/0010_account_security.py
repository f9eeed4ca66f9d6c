"""account security: two-factor, password reset tokens, sign-in throttling (placeholder: reserved so parallel work can land in any order; filled in by that work).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 02:30:00
"""

from collections.abc import Sequence

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
