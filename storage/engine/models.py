"""One row per flow run of the engine, so `casebridge engine status` can say when each flow
last ran and how it ended, whichever process (web, worker) ran it. Counts only: no payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, intpk


class EngineRun(Base):
    __tablename__ = "engine_runs"
    __table_args__ = (Index("ix_engine_runs_flow_started", "flow", "started_at"),)

    id: Mapped[intpk]
    flow: Mapped[str] = mapped_column(String(80))
    # Prefect's id of the run: its start and its end are written by different hooks.
    flow_run_id: Mapped[str] = mapped_column(String(36), unique=True)
    runner: Mapped[str] = mapped_column(String(120))  # host:pid
    mode: Mapped[str] = mapped_column(String(16))  # embedded, external, manual
    state: Mapped[str] = mapped_column(String(16))  # running, completed, failed, crashed ...
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    summary: Mapped[dict[str, Any] | None]
