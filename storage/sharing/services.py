"""Publishing the information sharing agreement and reading the one in force. Flushes,
never commits."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casebridge import clock
from rules.sharing import DEFAULT_FILE, SharingAgreement, load_default, load_sharing_text
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import InvalidState
from storage.sharing.models import SharingAgreementVersion

_CACHE_KEY = "casebridge.sharing_agreement"


@lru_cache(maxsize=16)
def _parsed(source_text: str, source_name: str) -> SharingAgreement:
    return load_sharing_text(source_text, source_name)


def current(session: Session) -> SharingAgreementVersion | None:
    return session.scalar(select(SharingAgreementVersion).order_by(
        SharingAgreementVersion.published_at.desc(), SharingAgreementVersion.id.desc()).limit(1))


def agreement_in_force(session: Session) -> SharingAgreement:
    """The newest published agreement, or the shipped default until one is published.
    Read once per session (a request), so a page's many access checks cost one query."""
    cached = session.info.get(_CACHE_KEY)
    if cached is not None:
        return cached
    row = current(session)
    agreement = load_default() if row is None else _parsed(row.source_text, row.source_name)
    session.info[_CACHE_KEY] = agreement
    return agreement


def history(session: Session) -> list[SharingAgreementVersion]:
    return list(session.scalars(select(SharingAgreementVersion).order_by(
        SharingAgreementVersion.published_at.desc(), SharingAgreementVersion.id.desc())))


def known_case_types(session: Session) -> set[str]:
    from storage.standards.services import known_case_types as case_types

    return set(case_types(session))


def publish(session: Session, actor: Actor, *, source_text: str,
            source_name: str) -> tuple[SharingAgreementVersion, bool]:
    """Publish an agreement version: every access check reads it at once. The same text
    again is a no-op; a version number already used, or lower than the newest, is refused.
    Returns (row, new)."""
    agreement = load_sharing_text(source_text, source_name, known_case_types(session))
    existing = session.scalar(select(SharingAgreementVersion).where(
        SharingAgreementVersion.partnership == agreement.partnership,
        SharingAgreementVersion.version == agreement.version))
    if existing is not None:
        if existing.content_hash == agreement.content_hash:
            return existing, False
        raise InvalidState(
            f"sharing agreement version {agreement.version} is already published with "
            "different content: give the changed file a new version number")
    newest = session.scalar(select(func.max(SharingAgreementVersion.version)).where(
        SharingAgreementVersion.partnership == agreement.partnership))
    if newest is not None and agreement.version < newest:
        raise InvalidState(f"version {newest} is already published: give the file version "
                           f"{newest + 1} or more")
    row = SharingAgreementVersion(
        partnership=agreement.partnership, version=agreement.version,
        content_hash=agreement.content_hash, source_text=source_text,
        source_name=source_name[-300:], published_at=clock.now(),
        published_by_id=actor.user_id)
    session.add(row)
    session.flush()
    session.info.pop(_CACHE_KEY, None)
    record(session, actor, AuditAction.CREATE, entity=row,
           after={"partnership": row.partnership, "version": row.version,
                  "content_hash": row.content_hash,
                  "case_types": {t: sorted(a) for t, a in agreement.case_types.items()},
                  "otherwise": sorted(agreement.otherwise)})
    return row, True


def publish_default(session: Session, actor: Actor) -> tuple[SharingAgreementVersion, bool]:
    return publish(session, actor, source_text=DEFAULT_FILE.read_text("utf-8"),
                   source_name=str(DEFAULT_FILE))
