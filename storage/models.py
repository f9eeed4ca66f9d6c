"""Every model, imported once so the metadata Alembic compares against is complete."""

from storage.accounts.models import PasswordReset, RecoveryCode, Role, User, UserRole
from storage.agencies.models import Agency, AgencyType, AgencyWebhook, WebhookEvent
from storage.audit.models import AuditAction, AuditChainHead, AuditEntry, AuditVerification
from storage.base import Base
from storage.cases.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Case,
    CaseLink,
    CaseParticipant,
    CaseShare,
    CaseStatus,
    LinkKind,
    Note,
    ParticipantRole,
    ReferenceCounter,
    RiskLevel,
    StageInstance,
    StageStatus,
)
from storage.detections.models import Detection
from storage.documents.models import Document
from storage.engine.models import EngineRun
from storage.escalations.models import Escalation
from storage.flags.models import Flag, FlagKind
from storage.meetings.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    MeetingStatus,
)
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from storage.people.models import (
    AddressKind,
    ContactMethod,
    Group,
    GroupMember,
    Location,
    Person,
    PersonAddress,
    Vulnerability,
    VulnerabilityKind,
)
from storage.restricted.models import AccessGrant, AccessRequest, AccessRequestStatus
from storage.retention.models import RetentionOutcome, RetentionReview, ReviewStatus
from storage.sharing.models import SharingAgreementVersion
from storage.standards.models import (
    CalendarDay,
    CasePause,
    DigestItem,
    EscalationContact,
    StandardEscalation,
    StandardsVersion,
)
from storage.workflows.models import DefinitionStatus, WorkflowDefinition

__all__ = [
    "AccessGrant",
    "AccessRequest",
    "AccessRequestStatus",
    "Action",
    "ActionStatus",
    "ActionUpdate",
    "AddressKind",
    "Agency",
    "AgencyType",
    "AgencyWebhook",
    "AgendaItem",
    "Attendance",
    "AuditAction",
    "AuditChainHead",
    "AuditEntry",
    "AuditVerification",
    "Base",
    "CalendarDay",
    "Case",
    "CaseLink",
    "CaseParticipant",
    "CasePause",
    "CaseShare",
    "CaseStatus",
    "ContactMethod",
    "DefinitionStatus",
    "Detection",
    "DigestItem",
    "Document",
    "EffectKind",
    "EngineRun",
    "Escalation",
    "EscalationContact",
    "Flag",
    "FlagKind",
    "Group",
    "GroupMember",
    "LinkKind",
    "Location",
    "Meeting",
    "MeetingAttendee",
    "MeetingKind",
    "MeetingStatus",
    "Note",
    "OutboxMessage",
    "OutboxStatus",
    "ParticipantRole",
    "PasswordReset",
    "Person",
    "PersonAddress",
    "RecoveryCode",
    "ReferenceCounter",
    "RetentionOutcome",
    "RetentionReview",
    "ReviewStatus",
    "RiskLevel",
    "Role",
    "SharingAgreementVersion",
    "StageInstance",
    "StageStatus",
    "StandardEscalation",
    "StandardsVersion",
    "User",
    "UserRole",
    "Vulnerability",
    "VulnerabilityKind",
    "WebhookEvent",
    "WorkflowDefinition",
]
