"""detections: each detector hit recorded once (unique key), and an index on when cases
were opened for the detectors' sweep.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('detections',
    sa.Column('id', KEY, nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('detector', sa.String(length=40), nullable=False),
    sa.Column('person_id', KEY, nullable=True),
    sa.Column('location_id', KEY, nullable=True),
    sa.Column('case_id', KEY, nullable=False),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.Column('opened_case_id', KEY, nullable=True),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(person_id IS NULL) <> (location_id IS NULL)',
                       name=op.f('ck_detections_one_subject')),
    sa.CheckConstraint('reports >= 0', name=op.f('ck_detections_reports_not_negative')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_detections_case_id_cases'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'],
                            name=op.f('fk_detections_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['opened_case_id'], ['cases.id'],
                            name=op.f('fk_detections_opened_case_id_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'],
                            name=op.f('fk_detections_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_detections')),
    sa.UniqueConstraint('key', name=op.f('uq_detections_key'))
    )
    op.create_index('ix_detections_detector_person', 'detections', ['detector', 'person_id'],
                    unique=False)
    op.create_index(op.f('ix_detections_case_id'), 'detections', ['case_id'], unique=False)
    op.create_index(op.f('ix_detections_location_id'), 'detections', ['location_id'],
                    unique=False)
    op.create_index('ix_cases_opened_at', 'cases', ['opened_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cases_opened_at', table_name='cases')
    op.drop_index(op.f('ix_detections_location_id'), table_name='detections')
    op.drop_index(op.f('ix_detections_case_id'), table_name='detections')
    op.drop_index('ix_detections_detector_person', table_name='detections')
    op.drop_table('detections')
