"""The periods a case spends paused, kept so standards' clocks can stop for them (the
workflow service calls these when it pauses and resumes a case). Flushes, never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from storage.standards.models import CasePause


def record_pause(session: Session, case_id: int, at: datetime) -> None:
    session.add(CasePause(case_id=case_id, paused_at=at))


def record_resume(session: Session, case_id: int, at: datetime) -> None:
    session.flush()
    session.execute(update(CasePause).where(CasePause.case_id == case_id,
                                            CasePause.resumed_at.is_(None))
                    .values(resumed_at=at))
