"""Recording engine runs (called from Prefect state hooks) and reading the latest per flow.

Like every service these flush and never commit; the hooks commit their own short unit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from casebridge import clock
from storage.engine.models import EngineRun

KEEP_FOR = timedelta(days=14)


def record_start(session: Session, *, flow: str, flow_run_id: str, runner: str,
                 mode: str) -> None:
    """A run began (again, if Prefect retries the hook: the same run id is one row)."""
    now = clock.now()
    exists = session.scalar(select(EngineRun.id).where(EngineRun.flow_run_id == flow_run_id))
    if exists is None:
        session.add(EngineRun(flow=flow, flow_run_id=flow_run_id, runner=runner[:120],
                              mode=mode, state="running", started_at=now))
        session.flush()
    # Old records go as new ones arrive: a run every 30 s is ~40,000 rows in a fortnight.
    session.execute(delete(EngineRun).where(EngineRun.flow == flow,
                                            EngineRun.started_at < now - KEEP_FOR))


def record_end(session: Session, *, flow: str, flow_run_id: str, runner: str, mode: str,
               state: str, summary: dict[str, Any] | None = None) -> None:
    """A run ended; its start may be missing (a crash before the first hook), so add it."""
    record_start(session, flow=flow, flow_run_id=flow_run_id, runner=runner, mode=mode)
    session.execute(
        update(EngineRun).where(EngineRun.flow_run_id == flow_run_id)
        .values(state=state[:16], finished_at=clock.now(), summary=summary)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def latest_runs(session: Session) -> dict[str, EngineRun]:
    """The newest run of each flow, and (as `last_finished`) the newest that ended."""
    newest = (select(EngineRun.flow, func.max(EngineRun.started_at).label("started"))
              .group_by(EngineRun.flow).subquery())
    rows = session.scalars(
        select(EngineRun).join(newest, (EngineRun.flow == newest.c.flow)
                               & (EngineRun.started_at == newest.c.started))
        .order_by(EngineRun.id)
    )
    return {row.flow: row for row in rows}


def last_finished(session: Session, flow: str) -> EngineRun | None:
    return session.scalar(
        select(EngineRun).where(EngineRun.flow == flow, EngineRun.finished_at.is_not(None))
        .order_by(EngineRun.finished_at.desc()).limit(1)
    )


def last_started_at(session: Session, flow: str) -> datetime | None:
    return session.scalar(select(func.max(EngineRun.started_at)).where(EngineRun.flow == flow))
