"""Which cases have a recurring review due: one set-based query over the review dates the
interpreter keeps in cases.workflow_state["next_reviews"] ({stage key: ISO instant})."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

# The dates are ISO strings with an offset (local time, by the partnership's calendar), so
# each dialect compares them as instants, never as text.
_POSTGRESQL = text("""
    SELECT c.id, r.key
    FROM cases AS c
    CROSS JOIN LATERAL jsonb_each_text(
        CASE WHEN jsonb_typeof(c.workflow_state -> 'next_reviews') = 'object'
             THEN c.workflow_state -> 'next_reviews' ELSE '{}'::jsonb END) AS r(key, value)
    WHERE c.status = 'open' AND r.value::timestamptz <= :now
    ORDER BY c.id, r.key
    LIMIT :limit
""")
_SQLITE = text("""
    SELECT c.id, r.key
    FROM cases AS c, json_each(c.workflow_state, '$.next_reviews') AS r
    WHERE c.status = 'open' AND json_type(c.workflow_state, '$.next_reviews') = 'object'
      AND julianday(r.value) <= julianday(:now)
    ORDER BY c.id, r.key
    LIMIT :limit
""")


def due_reviews(session: Session, now: datetime, *, limit: int = 10_000) -> list[tuple[int, str]]:
    """(case id, review stage key) for every open case whose review has fallen due. Paused
    and closed cases are left out: the interpreter would not open a review for them."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    statement = _POSTGRESQL if postgresql else _SQLITE
    rows = session.execute(statement, {"now": now if postgresql else now.isoformat(),
                                       "limit": limit})
    return [(int(case_id), str(key)) for case_id, key in rows]
