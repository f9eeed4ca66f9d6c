"""Panels and meetings (agenda, attendance, minutes per case), progress updates on actions,
and the meeting an action was raised at.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 17:42:14.662188
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('meetings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('marac', 'asbrac', 'case_review_panel', 'vulnerable_persons_panel', 'other', name='meetingkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('venue', sa.String(length=200), nullable=True),
    sa.Column('chair_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('organiser_agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.Enum('planned', 'held', 'cancelled', name='meetingstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('general_minutes', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(trim(title)) > 0', name=op.f('ck_meetings_title_not_blank')),
    sa.ForeignKeyConstraint(['chair_user_id'], ['users.id'], name=op.f('fk_meetings_chair_user_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_meetings_created_by_id_users')),
    sa.ForeignKeyConstraint(['organiser_agency_id'], ['agencies.id'], name=op.f('fk_meetings_organiser_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    op.create_index(op.f('ix_meetings_scheduled_for'), 'meetings', ['scheduled_for'], unique=False)
    op.create_table('meeting_agenda_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('meeting_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('minutes', sa.Text(), nullable=True),
    sa.Column('discussed', sa.Boolean(), nullable=False),
    sa.CheckConstraint('position >= 1', name=op.f('ck_meeting_agenda_items_position_positive')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_meeting_agenda_items_case_id_cases')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_agenda_items_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_agenda_items')),
    sa.UniqueConstraint('meeting_id', 'case_id', name=op.f('uq_meeting_agenda_items_meeting_id_case_id'))
    )
    op.create_index(op.f('ix_meeting_agenda_items_case_id'), 'meeting_agenda_items', ['case_id'], unique=False)
    op.create_index(op.f('ix_meeting_agenda_items_meeting_id'), 'meeting_agenda_items', ['meeting_id'], unique=False)
    op.create_table('meeting_attendees',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('meeting_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('attendance', sa.Enum('present', 'apologies', 'absent', name='attendance', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('confidentiality_signed', sa.Boolean(), nullable=False),
    sa.Column('information_sent', sa.Boolean(), nullable=False),
    sa.CheckConstraint('user_id IS NOT NULL OR name IS NOT NULL', name=op.f('ck_meeting_attendees_who_attended')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_meeting_attendees_agency_id_agencies')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_attendees_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_attendees_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_attendees'))
    )
    op.create_index(op.f('ix_meeting_attendees_meeting_id'), 'meeting_attendees', ['meeting_id'], unique=False)
    # Batch: SQLite cannot add a foreign key in place, so it rebuilds the table (before
    # action_updates points at it); PostgreSQL simply alters it.
    with op.batch_alter_table('actions') as batch:
        batch.add_column(sa.Column('agenda_item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch.create_foreign_key(op.f('fk_actions_agenda_item_id_meeting_agenda_items'), 'meeting_agenda_items', ['agenda_item_id'], ['id'])
    op.create_table('action_updates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(trim(body)) > 0', name=op.f('ck_action_updates_body_not_blank')),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_action_updates_action_id_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_action_updates_author_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_updates'))
    )
    op.create_index(op.f('ix_action_updates_action_id'), 'action_updates', ['action_id'], unique=False)
    # Task inboxes at scale: partial indexes on what is still to do, by due date.
    active = sa.text("status = 'active'")
    unclaimed = sa.text("status = 'active' AND assignee_user_id IS NULL")
    outstanding = sa.text("status IN ('open', 'accepted', 'overdue')")
    agency_outstanding = sa.text("status IN ('open', 'accepted', 'overdue') AND assigned_user_id IS NULL")
    op.create_index('ix_stage_instances_user_queue', 'stage_instances', ['assignee_user_id', 'due_at'], postgresql_where=active, sqlite_where=active)
    op.create_index('ix_stage_instances_agency_queue', 'stage_instances', ['assignee_agency_id', 'due_at'], postgresql_where=unclaimed, sqlite_where=unclaimed)
    op.create_index('ix_actions_user_queue', 'actions', ['assigned_user_id', 'due_at'], postgresql_where=outstanding, sqlite_where=outstanding)
    op.create_index('ix_actions_agency_queue', 'actions', ['assigned_agency_id', 'due_at'], postgresql_where=agency_outstanding, sqlite_where=agency_outstanding)


def downgrade() -> None:
    for table, index in (('actions', 'ix_actions_agency_queue'), ('actions', 'ix_actions_user_queue'),
                         ('stage_instances', 'ix_stage_instances_agency_queue'),
                         ('stage_instances', 'ix_stage_instances_user_queue')):
        op.drop_index(index, table_name=table)
    op.drop_index(op.f('ix_action_updates_action_id'), table_name='action_updates')
    op.drop_table('action_updates')
    with op.batch_alter_table('actions') as batch:
        batch.drop_constraint(op.f('fk_actions_agenda_item_id_meeting_agenda_items'), type_='foreignkey')
        batch.drop_column('agenda_item_id')
    op.drop_index(op.f('ix_meeting_attendees_meeting_id'), table_name='meeting_attendees')
    op.drop_table('meeting_attendees')
    op.drop_index(op.f('ix_meeting_agenda_items_meeting_id'), table_name='meeting_agenda_items')
    op.drop_index(op.f('ix_meeting_agenda_items_case_id'), table_name='meeting_agenda_items')
    op.drop_table('meeting_agenda_items')
    op.drop_index(op.f('ix_meetings_scheduled_for'), table_name='meetings')
    op.drop_table('meetings')
