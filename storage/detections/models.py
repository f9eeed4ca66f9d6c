"""Detections: one row per detector, subject and triggering report, ever.

The unique key is what lets the detectors run at intake and again in every sweep: a second
run, or an intake and a sweep at once, cannot record (and so cannot flag or e-mail) the same
hit twice. Ids only: the detector's name, the subject, the report and the count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, created_at, intpk


class Detection(Base):
    __tablename__ = "detections"
    __table_args__ = (
        CheckConstraint("(person_id IS NULL) <> (location_id IS NULL)", name="one_subject"),
        CheckConstraint("reports >= 0", name="reports_not_negative"),
        # once_per_window: has this detector fired for this person lately?
        Index("ix_detections_detector_person", "detector", "person_id"),
    )

    id: Mapped[intpk]
    # "{detector}:{person|location}:{subject id}:case:{case id}": also the outbox key's stem.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    detector: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("people.id", ondelete="CASCADE"))
    location_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("locations.id", ondelete="CASCADE"), index=True)
    # The report that reached the threshold (the subject's newest).
    case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # How many reports (incidents, each counted once) the window held then.
    reports: Mapped[int] = mapped_column(Integer)
    # A case the hit opened (e.g. an ASB Case Review), if the configuration says to.
    opened_case_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="SET NULL"))
    detected_at: Mapped[datetime]
    created_at: Mapped[created_at]


def detection_key(detector: str, subject: str, subject_id: int, case_id: int) -> str:
    return f"{detector}:{subject}:{subject_id}:case:{case_id}"
