"""Initial schema: agencies, accounts, profiles, cases, stages, actions, audit chain, outbox,
published workflow definitions.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 17:13:48.126535
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agencies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('agency_type', sa.Enum('police', 'council', 'housing', 'victim_service', 'domestic_abuse_service', 'youth_offending', 'probation', 'health', 'mental_health', 'fire_rescue', 'education', 'other', name='agencytype', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('contact_email', sa.String(length=320), nullable=True),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('code = upper(code) AND length(code) BETWEEN 2 AND 12', name=op.f('ck_agencies_code_shape')),
    sa.CheckConstraint('length(trim(name)) > 0', name=op.f('ck_agencies_name_not_blank')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agencies')),
    sa.UniqueConstraint('code', name=op.f('uq_agencies_code')),
    sa.UniqueConstraint('name', name=op.f('uq_agencies_name'))
    )
    op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_chain_head_single_row')),
    sa.CheckConstraint('last_seq >= 0', name=op.f('ck_audit_chain_head_last_seq_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    # The chain starts at a single head row, so the first writers never race to create it.
    op.bulk_insert(
        sa.table('audit_chain_head', sa.column('id'), sa.column('last_seq'), sa.column('last_hash')),
        [{'id': 1, 'last_seq': 0, 'last_hash': '0' * 64}],
    )
    op.create_table('locations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=True),
    sa.Column('address_line_1', sa.String(length=200), nullable=True),
    sa.Column('address_line_2', sa.String(length=200), nullable=True),
    sa.Column('town', sa.String(length=100), nullable=True),
    sa.Column('postcode', sa.String(length=10), nullable=True),
    sa.Column('uprn', sa.String(length=12), nullable=True),
    sa.Column('area', sa.String(length=100), nullable=True),
    sa.Column('ward', sa.String(length=100), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(latitude IS NULL AND longitude IS NULL) OR (latitude IS NOT NULL AND longitude IS NOT NULL AND latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180)', name=op.f('ck_locations_coordinates_pair_in_range')),
    sa.CheckConstraint('address_line_1 IS NOT NULL OR description IS NOT NULL', name=op.f('ck_locations_address_or_description')),
    sa.CheckConstraint('postcode IS NULL OR postcode = upper(postcode)', name=op.f('ck_locations_postcode_upper')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locations')),
    sa.UniqueConstraint('uprn', name=op.f('uq_locations_uprn'))
    )
    op.create_index(op.f('ix_locations_area'), 'locations', ['area'], unique=False)
    op.create_index(op.f('ix_locations_postcode'), 'locations', ['postcode'], unique=False)
    op.create_table('reference_counters',
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.CheckConstraint('last_value >= 0', name=op.f('ck_reference_counters_last_value_not_negative')),
    sa.PrimaryKeyConstraint('prefix', 'year', name=op.f('pk_reference_counters'))
    )
    op.create_table('groups',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('usual_location_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(trim(name)) > 0', name=op.f('ck_groups_name_not_blank')),
    sa.ForeignKeyConstraint(['usual_location_id'], ['locations.id'], name=op.f('fk_groups_usual_location_id_locations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups'))
    )
    op.create_table('people',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('known_as', sa.String(length=100), nullable=True),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('gender', sa.String(length=40), nullable=True),
    sa.Column('preferred_contact', sa.Enum('phone', 'email', 'letter', 'in_person', 'through_agency', 'do_not_contact', name='contactmethod', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('safe_to_leave_messages', sa.Boolean(), nullable=True),
    sa.Column('contact_notes', sa.Text(), nullable=True),
    sa.Column('needs_interpreter', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=60), nullable=True),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('created_by_agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("NOT (preferred_contact = 'email' AND email IS NULL)", name=op.f('ck_people_email_when_preferred')),
    sa.CheckConstraint("NOT (preferred_contact = 'phone' AND phone IS NULL)", name=op.f('ck_people_phone_when_preferred')),
    sa.CheckConstraint('length(trim(given_name)) > 0 OR length(trim(family_name)) > 0', name=op.f('ck_people_has_a_name')),
    sa.ForeignKeyConstraint(['created_by_agency_id'], ['agencies.id'], name=op.f('fk_people_created_by_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people'))
    )
    op.create_index(op.f('ix_people_date_of_birth'), 'people', ['date_of_birth'], unique=False)
    op.create_index(op.f('ix_people_family_name'), 'people', ['family_name'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('job_title', sa.String(length=200), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('line_manager_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_sign_ins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_signed_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("email = lower(email) AND email LIKE '%_@_%'", name=op.f('ck_users_email_shape')),
    sa.CheckConstraint('failed_sign_ins >= 0', name=op.f('ck_users_failed_sign_ins_not_negative')),
    sa.CheckConstraint('line_manager_id IS NULL OR line_manager_id <> id', name=op.f('ck_users_not_own_manager')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_users_agency_id_agencies')),
    sa.ForeignKeyConstraint(['line_manager_id'], ['users.id'], name=op.f('fk_users_line_manager_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_index(op.f('ix_users_agency_id'), 'users', ['agency_id'], unique=False)
    op.create_table('audit_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('actor_agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('actor_label', sa.String(length=120), nullable=False),
    sa.Column('action', sa.Enum('view', 'search', 'export', 'create', 'update', 'delete', 'sign_in', 'sign_in_failed', 'sign_out', 'access_denied', name='auditaction', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('entity_type', sa.String(length=60), nullable=False),
    sa.Column('entity_id', sa.String(length=60), nullable=True),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('length(entry_hash) = 64', name=op.f('ck_audit_entries_entry_hash_sha256')),
    sa.CheckConstraint('length(prev_hash) = 64', name=op.f('ck_audit_entries_prev_hash_sha256')),
    sa.CheckConstraint('seq >= 1', name=op.f('ck_audit_entries_seq_positive')),
    sa.ForeignKeyConstraint(['actor_agency_id'], ['agencies.id'], name=op.f('fk_audit_entries_actor_agency_id_agencies')),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_audit_entries_actor_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries')),
    sa.UniqueConstraint('entry_hash', name=op.f('uq_audit_entries_entry_hash')),
    sa.UniqueConstraint('seq', name=op.f('uq_audit_entries_seq'))
    )
    op.create_index(op.f('ix_audit_entries_actor_user_id'), 'audit_entries', ['actor_user_id'], unique=False)
    op.create_index(op.f('ix_audit_entries_case_id'), 'audit_entries', ['case_id'], unique=False)
    op.create_index('ix_audit_entries_entity', 'audit_entries', ['entity_type', 'entity_id'], unique=False)
    op.create_index(op.f('ix_audit_entries_occurred_at'), 'audit_entries', ['occurred_at'], unique=False)
    op.create_table('cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('case_type', sa.String(length=40), nullable=False),
    sa.Column('definition_version', sa.Integer(), nullable=False),
    sa.Column('definition_hash', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('open', 'paused', 'closed', name='casestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('risk_level', sa.Enum('standard', 'medium', 'high', name='risklevel', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('owning_agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lead_officer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('workflow_state', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closure_reason', sa.String(length=200), nullable=True),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name=op.f('ck_cases_closed_at_iff_closed')),
    sa.CheckConstraint("status <> 'closed' OR closure_reason IS NOT NULL", name=op.f('ck_cases_closure_has_reason')),
    sa.CheckConstraint('closed_at IS NULL OR closed_at >= opened_at', name=op.f('ck_cases_closed_after_opened')),
    sa.CheckConstraint('definition_version >= 1', name=op.f('ck_cases_definition_version_positive')),
    sa.CheckConstraint('length(definition_hash) = 64', name=op.f('ck_cases_definition_hash_sha256')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_cases_version_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_cases_created_by_id_users')),
    sa.ForeignKeyConstraint(['lead_officer_id'], ['users.id'], name=op.f('fk_cases_lead_officer_id_users')),
    sa.ForeignKeyConstraint(['owning_agency_id'], ['agencies.id'], name=op.f('fk_cases_owning_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('reference', name=op.f('uq_cases_reference'))
    )
    op.create_index(op.f('ix_cases_lead_officer_id'), 'cases', ['lead_officer_id'], unique=False)
    op.create_index(op.f('ix_cases_owning_agency_id'), 'cases', ['owning_agency_id'], unique=False)
    op.create_index('ix_cases_status_type', 'cases', ['status', 'case_type'], unique=False)
    op.create_table('group_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('group_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('left_at IS NULL OR left_at >= joined_at', name=op.f('ck_group_members_dates_in_order')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_members_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_group_members_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_members')),
    sa.UniqueConstraint('group_id', 'person_id', name=op.f('uq_group_members_group_id_person_id'))
    )
    op.create_index(op.f('ix_group_members_person_id'), 'group_members', ['person_id'], unique=False)
    op.create_table('person_addresses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('home', 'previous', 'correspondence', 'temporary', 'work', name='addresskind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('from_date', sa.Date(), nullable=True),
    sa.Column('until_date', sa.Date(), nullable=True),
    sa.CheckConstraint('until_date IS NULL OR until_date >= from_date', name=op.f('ck_person_addresses_dates_in_order')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_person_addresses_location_id_locations')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_person_addresses_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_addresses'))
    )
    op.create_index(op.f('ix_person_addresses_location_id'), 'person_addresses', ['location_id'], unique=False)
    op.create_index(op.f('ix_person_addresses_person_id'), 'person_addresses', ['person_id'], unique=False)
    op.create_table('user_roles',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.Enum('practitioner', 'panel_member', 'manager', 'partnership_admin', 'auditor', name='role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_roles')),
    sa.UniqueConstraint('user_id', 'role', name=op.f('uq_user_roles_user_id_role'))
    )
    op.create_table('vulnerabilities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('disability', 'long_term_illness', 'mental_health', 'learning_disability', 'age', 'language_or_communication', 'social_isolation', 'substance_misuse', 'domestic_abuse', 'pregnancy', 'carer', 'other', name='vulnerabilitykind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_vulnerabilities_person_id_people'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_vulnerabilities_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vulnerabilities')),
    sa.UniqueConstraint('person_id', 'kind', name=op.f('uq_vulnerabilities_person_id_kind'))
    )
    op.create_index(op.f('ix_vulnerabilities_person_id'), 'vulnerabilities', ['person_id'], unique=False)
    op.create_table('workflow_definitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_type', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('reference_prefix', sa.String(length=12), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('source_name', sa.String(length=300), nullable=False),
    sa.Column('status', sa.Enum('published', 'retired', name='definitionstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint('length(content_hash) = 64', name=op.f('ck_workflow_definitions_content_hash_sha256')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_workflow_definitions_version_positive')),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_workflow_definitions_published_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_definitions')),
    sa.UniqueConstraint('case_type', 'version', name=op.f('uq_workflow_definitions_case_type_version'))
    )
    op.create_table('case_links',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('related', 'same_incident', 'duplicate_of', 'escalated_to', name='linkkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('linked_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('from_case_id <> to_case_id', name=op.f('ck_case_links_not_self')),
    sa.ForeignKeyConstraint(['from_case_id'], ['cases.id'], name=op.f('fk_case_links_from_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['linked_by_id'], ['users.id'], name=op.f('fk_case_links_linked_by_id_users')),
    sa.ForeignKeyConstraint(['to_case_id'], ['cases.id'], name=op.f('fk_case_links_to_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_links')),
    sa.UniqueConstraint('from_case_id', 'to_case_id', 'kind', name=op.f('uq_case_links_from_case_id_to_case_id_kind'))
    )
    op.create_index(op.f('ix_case_links_from_case_id'), 'case_links', ['from_case_id'], unique=False)
    op.create_index(op.f('ix_case_links_to_case_id'), 'case_links', ['to_case_id'], unique=False)
    op.create_table('case_participants',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.Enum('victim', 'complainant', 'applicant', 'perpetrator', 'alleged_perpetrator', 'witness', 'incident_location', 'subject_group', 'other', name='participantrole', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('group_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(role = 'incident_location') = (location_id IS NOT NULL)", name=op.f('ck_case_participants_locations_are_incident_locations')),
    sa.CheckConstraint("group_id IS NULL OR role IN ('subject_group', 'perpetrator', 'alleged_perpetrator')", name=op.f('ck_case_participants_group_roles')),
    sa.CheckConstraint('(CASE WHEN person_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN location_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_case_participants_exactly_one_subject')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_participants_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_case_participants_group_id_groups')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_case_participants_location_id_locations')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_case_participants_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_participants'))
    )
    op.create_index(op.f('ix_case_participants_case_id'), 'case_participants', ['case_id'], unique=False)
    op.create_index(op.f('ix_case_participants_location_id'), 'case_participants', ['location_id'], unique=False)
    op.create_index('ix_case_participants_person_role', 'case_participants', ['person_id', 'role'], unique=False)
    op.create_table('case_shares',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shared_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('shared_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_case_shares_agency_id_agencies')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_shares_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shared_by_id'], ['users.id'], name=op.f('fk_case_shares_shared_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_shares')),
    sa.UniqueConstraint('case_id', 'agency_id', name=op.f('uq_case_shares_case_id_agency_id'))
    )
    op.create_index(op.f('ix_case_shares_agency_id'), 'case_shares', ['agency_id'], unique=False)
    op.create_table('documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=120), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(sha256) = 64', name=op.f('ck_documents_sha256_shape')),
    sa.CheckConstraint('length(trim(filename)) > 0', name=op.f('ck_documents_filename_not_blank')),
    sa.CheckConstraint('size_bytes >= 0', name=op.f('ck_documents_size_not_negative')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_documents_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_documents_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents'))
    )
    op.create_index(op.f('ix_documents_case_id'), 'documents', ['case_id'], unique=False)
    op.create_index(op.f('ix_documents_sha256'), 'documents', ['sha256'], unique=False)
    op.create_table('flags',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('repeat_victim', 'vulnerable', 'hate_motivated', 'risk_to_staff', 'weapons', 'violence', 'domestic_abuse', 'child_safeguarding', 'hot_spot', 'other', name='flagkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('group_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('raised_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint('(CASE WHEN person_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN location_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN case_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_flags_exactly_one_subject')),
    sa.CheckConstraint('(cleared_at IS NULL) = (cleared_by_id IS NULL)', name=op.f('ck_flags_cleared_by_whom')),
    sa.CheckConstraint('expires_at IS NULL OR expires_at > raised_at', name=op.f('ck_flags_expires_after_raised')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_flags_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cleared_by_id'], ['users.id'], name=op.f('fk_flags_cleared_by_id_users')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_flags_group_id_groups')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_flags_location_id_locations')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_flags_person_id_people')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_flags_raised_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags'))
    )
    op.create_index(op.f('ix_flags_case_id'), 'flags', ['case_id'], unique=False)
    op.create_index(op.f('ix_flags_location_id'), 'flags', ['location_id'], unique=False)
    op.create_index(op.f('ix_flags_person_id'), 'flags', ['person_id'], unique=False)
    op.create_table('notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('restricted_to_agency', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(trim(body)) > 0', name=op.f('ck_notes_body_not_blank')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_notes_author_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_notes_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notes'))
    )
    op.create_index(op.f('ix_notes_case_id'), 'notes', ['case_id'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('email', 'notify_agency', 'create_actions', 'referral', 'webhook', 'letter', name='effectkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('payload', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.Enum('pending', 'claimed', 'done', 'failed', name='outboxstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=120), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'claimed') = (lease_expires_at IS NOT NULL)", name=op.f('ck_outbox_lease_iff_claimed')),
    sa.CheckConstraint("(status = 'done') = (completed_at IS NOT NULL)", name=op.f('ck_outbox_completed_at_iff_done')),
    sa.CheckConstraint("status <> 'failed' OR last_error IS NOT NULL", name=op.f('ck_outbox_failure_has_error')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_outbox_attempts_not_negative')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_outbox_case_id_cases'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    op.create_index(op.f('ix_outbox_case_id'), 'outbox', ['case_id'], unique=False)
    op.create_index('ix_outbox_status_available', 'outbox', ['status', 'available_at'], unique=False)
    op.create_table('stage_instances',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stage_key', sa.String(length=60), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'completed', 'cancelled', name='stagestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('form_key', sa.String(length=60), nullable=True),
    sa.Column('assignee_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('assignee_agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('assignee_role', sa.String(length=32), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('form_data', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.CheckConstraint("(status = 'completed') = (completed_at IS NOT NULL)", name=op.f('ck_stage_instances_completed_at_iff_completed')),
    sa.CheckConstraint("status <> 'completed' OR form_data IS NOT NULL", name=op.f('ck_stage_instances_completed_has_submission')),
    sa.CheckConstraint('completed_at IS NULL OR completed_at >= opened_at', name=op.f('ck_stage_instances_completed_after_opened')),
    sa.CheckConstraint('due_at IS NULL OR due_at >= opened_at', name=op.f('ck_stage_instances_due_after_opened')),
    sa.CheckConstraint('sequence >= 1', name=op.f('ck_stage_instances_sequence_positive')),
    sa.CheckConstraint('warn_at IS NULL OR (due_at IS NOT NULL AND warn_at <= due_at)', name=op.f('ck_stage_instances_warning_before_due')),
    sa.ForeignKeyConstraint(['assignee_agency_id'], ['agencies.id'], name=op.f('fk_stage_instances_assignee_agency_id_agencies')),
    sa.ForeignKeyConstraint(['assignee_user_id'], ['users.id'], name=op.f('fk_stage_instances_assignee_user_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_stage_instances_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_stage_instances_completed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_instances')),
    sa.UniqueConstraint('case_id', 'stage_key', 'sequence', name=op.f('uq_stage_instances_case_id_stage_key_sequence'))
    )
    op.create_index('ix_stage_instances_active_due', 'stage_instances', ['status', 'due_at'], unique=False)
    op.create_index(op.f('ix_stage_instances_assignee_agency_id'), 'stage_instances', ['assignee_agency_id'], unique=False)
    op.create_index(op.f('ix_stage_instances_assignee_user_id'), 'stage_instances', ['assignee_user_id'], unique=False)
    op.create_index(op.f('ix_stage_instances_case_id'), 'stage_instances', ['case_id'], unique=False)
    op.create_table('actions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stage_instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('assigned_agency_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('assigned_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.Enum('open', 'accepted', 'declined', 'done', 'overdue', name='actionstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'done') = (completed_at IS NOT NULL)", name=op.f('ck_actions_completed_at_iff_done')),
    sa.CheckConstraint("status <> 'declined' OR decline_reason IS NOT NULL", name=op.f('ck_actions_decline_has_reason')),
    sa.CheckConstraint('due_at >= created_at', name=op.f('ck_actions_due_after_created')),
    sa.CheckConstraint('length(trim(title)) > 0', name=op.f('ck_actions_title_not_blank')),
    sa.ForeignKeyConstraint(['assigned_agency_id'], ['agencies.id'], name=op.f('fk_actions_assigned_agency_id_agencies')),
    sa.ForeignKeyConstraint(['assigned_user_id'], ['users.id'], name=op.f('fk_actions_assigned_user_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_actions_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_actions_created_by_id_users')),
    sa.ForeignKeyConstraint(['stage_instance_id'], ['stage_instances.id'], name=op.f('fk_actions_stage_instance_id_stage_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions'))
    )
    op.create_index(op.f('ix_actions_assigned_agency_id'), 'actions', ['assigned_agency_id'], unique=False)
    op.create_index(op.f('ix_actions_assigned_user_id'), 'actions', ['assigned_user_id'], unique=False)
    op.create_index(op.f('ix_actions_case_id'), 'actions', ['case_id'], unique=False)
    op.create_index('ix_actions_status_due', 'actions', ['status', 'due_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_actions_status_due', table_name='actions')
    op.drop_index(op.f('ix_actions_case_id'), table_name='actions')
    op.drop_index(op.f('ix_actions_assigned_user_id'), table_name='actions')
    op.drop_index(op.f('ix_actions_assigned_agency_id'), table_name='actions')
    op.drop_table('actions')
    op.drop_index(op.f('ix_stage_instances_case_id'), table_name='stage_instances')
    op.drop_index(op.f('ix_stage_instances_assignee_user_id'), table_name='stage_instances')
    op.drop_index(op.f('ix_stage_instances_assignee_agency_id'), table_name='stage_instances')
    op.drop_index('ix_stage_instances_active_due', table_name='stage_instances')
    op.drop_table('stage_instances')
    op.drop_index('ix_outbox_status_available', table_name='outbox')
    op.drop_index(op.f('ix_outbox_case_id'), table_name='outbox')
    op.drop_table('outbox')
    op.drop_index(op.f('ix_notes_case_id'), table_name='notes')
    op.drop_table('notes')
    op.drop_index(op.f('ix_flags_person_id'), table_name='flags')
    op.drop_index(op.f('ix_flags_location_id'), table_name='flags')
    op.drop_index(op.f('ix_flags_case_id'), table_name='flags')
    op.drop_table('flags')
    op.drop_index(op.f('ix_documents_sha256'), table_name='documents')
    op.drop_index(op.f('ix_documents_case_id'), table_name='documents')
    op.drop_table('documents')
    op.drop_index(op.f('ix_case_shares_agency_id'), table_name='case_shares')
    op.drop_table('case_shares')
    op.drop_index('ix_case_participants_person_role', table_name='case_participants')
    op.drop_index(op.f('ix_case_participants_location_id'), table_name='case_participants')
    op.drop_index(op.f('ix_case_participants_case_id'), table_name='case_participants')
    op.drop_table('case_participants')
    op.drop_index(op.f('ix_case_links_to_case_id'), table_name='case_links')
    op.drop_index(op.f('ix_case_links_from_case_id'), table_name='case_links')
    op.drop_table('case_links')
    op.drop_table('workflow_definitions')
    op.drop_index(op.f('ix_vulnerabilities_person_id'), table_name='vulnerabilities')
    op.drop_table('vulnerabilities')
    op.drop_table('user_roles')
    op.drop_index(op.f('ix_person_addresses_person_id'), table_name='person_addresses')
    op.drop_index(op.f('ix_person_addresses_location_id'), table_name='person_addresses')
    op.drop_table('person_addresses')
    op.drop_index(op.f('ix_group_members_person_id'), table_name='group_members')
    op.drop_table('group_members')
    op.drop_index('ix_cases_status_type', table_name='cases')
    op.drop_index(op.f('ix_cases_owning_agency_id'), table_name='cases')
    op.drop_index(op.f('ix_cases_lead_officer_id'), table_name='cases')
    op.drop_table('cases')
    op.drop_index(op.f('ix_audit_entries_occurred_at'), table_name='audit_entries')
    op.drop_index('ix_audit_entries_entity', table_name='audit_entries')
    op.drop_index(op.f('ix_audit_entries_case_id'), table_name='audit_entries')
    op.drop_index(op.f('ix_audit_entries_actor_user_id'), table_name='audit_entries')
    op.drop_table('audit_entries')
    op.drop_index(op.f('ix_users_agency_id'), table_name='users')
    op.drop_table('users')
    op.drop_index(op.f('ix_people_family_name'), table_name='people')
    op.drop_index(op.f('ix_people_date_of_birth'), table_name='people')
    op.drop_table('people')
    op.drop_table('groups')
    op.drop_table('reference_counters')
    op.drop_index(op.f('ix_locations_postcode'), table_name='locations')
    op.drop_index(op.f('ix_locations_area'), table_name='locations')
    op.drop_table('locations')
    op.drop_table('audit_chain_head')
    op.drop_table('agencies')
