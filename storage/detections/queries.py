"""Finding detector hits in SQL, set-based: one statement per detector answers for one
subject (at intake: the people and the place on the case just opened) or for every subject
(a sweep), with the same text. No loop over people or cases in Python.

A subject's reports are the cases where it has one of the detector's roles, opened in the
window [as_of - N months, as_of]. Cases linked as the same incident (directly, or through a
chain of such links: a recursive CTE over case_links, walked from the reports only) count
once: each report's incident is the lowest case id it is linked to. A hit is a subject
whose count reaches the threshold, reported against its newest report in the window (the
one that reached it). The reads use the indexes on case_participants (person_id, role) and
(location_id), cases (id; opened_at for a sweep), case_links (from/to) and flags (case_id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from rules.detectors.config import DetectorConfig, DetectorsConfig
from storage.base import UTCDateTime
from storage.detections.models import detection_key

PERPETRATOR_ROLES = ("perpetrator", "alleged_perpetrator")
REPORTER_ROLES = ("victim", "complainant", "applicant")
HATE_FLAG = "hate_motivated"


@dataclass(frozen=True)
class Hit:
    detector: str
    subject: str  # "person" or "location"
    subject_id: int
    case_id: int  # the newest report: the one that reached the threshold
    reference: str
    reports: int  # incidents in the window, each counted once
    owning_agency_id: int
    lead_officer_id: int | None
    route: str = ""  # which rule of several met it, e.g. "hate incident" (Case Review)

    @property
    def key(self) -> str:
        return detection_key(self.detector, self.subject, self.subject_id, self.case_id)


def months_before(moment: datetime, months: int) -> datetime:
    """The same time `months` calendar months earlier (the 31st becomes the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    days_in_month = (date(year + (month == 12), month % 12 + 1, 1) - date(year, month, 1)).days
    return moment.replace(year=year, month=month, day=min(moment.day, days_in_month))


def find_hits(
    session: Session, config: DetectorsConfig, detector: DetectorConfig, as_of: datetime, *,
    person_ids: Sequence[int] | None = None, location_ids: Sequence[int] | None = None,
    trigger_case_id: int | None = None, recorded: bool = False,
) -> list[Hit]:
    """The detector's hits at `as_of`: for the given subjects only (None: every subject of
    its kind; an empty list: none), only where `trigger_case_id` is the newest report when
    given, and (unless `recorded`) only those not recorded yet."""
    if not detector.enabled:
        return []
    hits: list[Hit] = []
    if detector.name == "marac_repeat":
        if person_ids is None or person_ids:
            params = _params(config, detector, as_of, person_ids, trigger_case_id)
            sql = _marac_repeat_sql(session, config, detector, params, person_ids,
                                    trigger_case_id, recorded)
            hits += _run(session, sql, params, detector, "person")
        return hits
    if detector.subject == "location":
        if location_ids is None or location_ids:
            hits += _count(session, config, detector, as_of, "location", location_ids,
                           trigger_case_id, recorded)
        return hits
    if person_ids is None or person_ids:
        hits += _count(session, config, detector, as_of, "person", person_ids,
                       trigger_case_id, recorded)
    if (detector.name == "case_review_threshold" and detector.location_reports is not None
            and (location_ids is None or location_ids)):
        hits += _count(session, config, detector, as_of, "location", location_ids,
                       trigger_case_id, recorded)
    return hits


def _count(session: Session, config: DetectorsConfig, d: DetectorConfig, as_of: datetime,
           subject: str, subject_ids: Sequence[int] | None, trigger_case_id: int | None,
           recorded: bool) -> list[Hit]:
    column = "person_id" if subject == "person" else "location_id"
    roles = ("incident_location",) if subject == "location" else d.roles
    params = _params(config, d, as_of, subject_ids, trigger_case_id) | {"roles": list(roles)}
    hate = d.name == "case_review_threshold"
    conditions: list[str] = []
    if subject == "location" and d.name == "case_review_threshold":
        conditions.append("co.n >= :location_reports AND coalesce(rp.k, 0) >= :reporters")
        params |= {"location_reports": d.location_reports, "reporters": d.location_reporters,
                   "reporter_roles": list(REPORTER_ROLES)}
    else:
        conditions.append("co.n >= :threshold")
        params["threshold"] = d.reports
        if hate and d.hate_incidents is not None:
            conditions.append("co.hate_n >= :hate_incidents")
            params["hate_incidents"] = d.hate_incidents
        if hate and d.reports_with_hate is not None:
            conditions.append("(co.n >= :reports_with_hate AND co.hate_n >= 1)")
            params["reports_with_hate"] = d.reports_with_hate
    hate_column = "0"
    if hate:
        hate_column = (f"CASE WHEN {_in('c.case_type', 'hate_types', d.hate_case_types)} OR "  # noqa: S608
                       f"EXISTS (SELECT 1 FROM flags hf WHERE hf.case_id = c.id AND "
                       f"hf.kind = '{HATE_FLAG}' AND hf.cleared_at IS NULL) THEN 1 ELSE 0 END")
        params["hate_types"] = list(d.hate_case_types)
    reporters_cte, reporters_join = "", ""
    if "reporters" in params:
        reporters_cte = (
            ", rp AS (SELECT rep.subject_id, count(DISTINCT r.person_id) AS k FROM rep"
            " JOIN case_participants r ON r.case_id = rep.case_id AND r.person_id IS NOT NULL"
            " AND r.role IN :reporter_roles GROUP BY rep.subject_id)")
        reporters_join = " LEFT JOIN rp ON rp.subject_id = nw.subject_id"
    sql = f"""
WITH RECURSIVE
rep AS (
  SELECT DISTINCT p.{column} AS subject_id, c.id AS case_id, c.opened_at AS opened_at,
         {hate_column} AS hate
  FROM case_participants p JOIN cases c ON c.id = p.case_id
  WHERE p.{column} IS NOT NULL AND p.role IN :roles
    AND c.opened_at >= :since AND c.opened_at <= :as_of
    {_reports_clause(config, d, params)}
    {_subject_clause(f"p.{column}", subject_ids)}
),
reach(case_id, other) AS (
  SELECT case_id, case_id FROM rep
  UNION
  SELECT reach.case_id,
         CASE WHEN l.from_case_id = reach.other THEN l.to_case_id ELSE l.from_case_id END
  FROM reach JOIN case_links l
    ON (l.from_case_id = reach.other OR l.to_case_id = reach.other) AND l.kind IN :links
),
inc AS (SELECT case_id, min(other) AS incident FROM reach GROUP BY case_id),
co AS (
  SELECT rep.subject_id, count(DISTINCT inc.incident) AS n,
         count(DISTINCT CASE WHEN rep.hate = 1 THEN inc.incident END) AS hate_n
  FROM rep JOIN inc ON inc.case_id = rep.case_id GROUP BY rep.subject_id
),
nw AS (
  SELECT subject_id, case_id, row_number() OVER (
    PARTITION BY subject_id ORDER BY opened_at DESC, case_id DESC) AS rn
  FROM rep
){reporters_cte}
SELECT nw.subject_id, nw.case_id, co.n, co.hate_n, c.reference, c.owning_agency_id,
       c.lead_officer_id
FROM nw JOIN co ON co.subject_id = nw.subject_id JOIN cases c ON c.id = nw.case_id
  {reporters_join}
WHERE nw.rn = 1 AND ({" OR ".join(conditions)})
  {"AND nw.case_id = :trigger" if trigger_case_id is not None else ""}
  {"" if recorded else _not_recorded(column)}
  {_once_per_window(column) if d.once_per_window else ""}
ORDER BY nw.subject_id
"""  # noqa: S608
    return _run(session, sql, params, d, subject)


def _marac_repeat_sql(session: Session, config: DetectorsConfig, d: DetectorConfig,
                      params: dict[str, Any], person_ids: Sequence[int] | None,
                      trigger_case_id: int | None, recorded: bool) -> str:
    """A new domestic abuse incident (the trigger) for a victim whose earlier MARAC referral
    was within the window before it (and, if set, names a perpetrator the incident does)."""
    if session.get_bind().dialect.name == "postgresql":
        window_start = "c.opened_at - make_interval(months => :months)"
    else:
        window_start = "datetime(c.opened_at, '-' || :months || ' months')"
    same_perpetrator = ""
    if d.same_perpetrator:
        same_perpetrator = """
      AND EXISTS (SELECT 1 FROM case_participants pa
                  JOIN case_participants pb ON pb.person_id = pa.person_id
                  WHERE pa.case_id = r.id AND pb.case_id = c.id
                    AND pa.role IN :perpetrator_roles AND pb.role IN :perpetrator_roles)"""
    reports = _reports_clause(config, d, params)
    return f"""
SELECT DISTINCT v.person_id AS subject_id, c.id AS case_id, 1 AS n, 0 AS hate_n, c.reference,
       c.owning_agency_id, c.lead_officer_id
FROM case_participants v JOIN cases c ON c.id = v.case_id
WHERE v.person_id IS NOT NULL AND v.role IN :roles
  AND c.opened_at >= :since AND c.opened_at <= :as_of
  {reports}
  {_subject_clause("v.person_id", person_ids)}
  {"AND c.id = :trigger" if trigger_case_id is not None else ""}
  AND EXISTS (
    SELECT 1 FROM case_participants rv JOIN cases r ON r.id = rv.case_id
    WHERE rv.person_id = v.person_id AND rv.role IN :roles
      AND r.case_type IN :referral_types AND r.id <> c.id
      AND (r.opened_at < c.opened_at OR (r.opened_at = c.opened_at AND r.id < c.id))
      AND r.opened_at >= {window_start}{same_perpetrator})
  {"" if recorded else _not_recorded("person_id", "v.person_id", "c.id")}
ORDER BY subject_id, case_id
"""  # noqa: S608


def _reports_clause(config: DetectorsConfig, d: DetectorConfig, params: dict[str, Any]) -> str:
    """Which cases are reports for this detector: not of a not_reports type, and (if the
    detector names types or flags) of one of its types or carrying one of its flags."""
    params["not_reports"] = list(config.not_reports)
    clause = "AND c.case_type NOT IN :not_reports" if config.not_reports else ""
    either = []
    if d.case_types:
        params["case_types"] = list(d.case_types)
        either.append("c.case_type IN :case_types")
    if d.case_flags:
        params["case_flags"] = list(d.case_flags)
        either.append("EXISTS (SELECT 1 FROM flags cf WHERE cf.case_id = c.id"
                      " AND cf.kind IN :case_flags AND cf.cleared_at IS NULL)")
    if either:
        clause += f" AND ({' OR '.join(either)})"
    return clause


def _in(column: str, name: str, values: Sequence[str]) -> str:
    return f"{column} IN :{name}" if values else "1 = 0"


def _subject_clause(column: str, ids: Sequence[int] | None) -> str:
    return "" if ids is None else f"AND {column} IN :subjects"


def _not_recorded(column: str, subject: str = "nw.subject_id", case: str = "nw.case_id") -> str:
    return (f"AND NOT EXISTS (SELECT 1 FROM detections d WHERE d.case_id = {case}"  # noqa: S608
            f" AND d.detector = :detector AND d.{column} = {subject})")


def _once_per_window(column: str) -> str:
    """Not again for a subject this detector fired for on a report in the same window."""
    return (f"AND NOT EXISTS (SELECT 1 FROM detections dw JOIN cases dc ON dc.id = dw.case_id"  # noqa: S608
            f" WHERE dw.detector = :detector AND dw.{column} = nw.subject_id"
            f" AND dw.case_id <> nw.case_id AND dc.opened_at >= :since)")


def _params(config: DetectorsConfig, d: DetectorConfig, as_of: datetime,
            subject_ids: Sequence[int] | None, trigger_case_id: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "since": months_before(as_of, d.within_months), "as_of": as_of,
        "roles": list(d.roles), "links": list(config.same_incident_links) or ["-"],
        "detector": d.name, "months": d.within_months,
        "referral_types": list(d.referral_case_types) or ["-"],
        "perpetrator_roles": list(PERPETRATOR_ROLES),
    }
    if subject_ids is not None:
        params["subjects"] = list(subject_ids)
    if trigger_case_id is not None:
        params["trigger"] = trigger_case_id
    return params


_EXPANDING = ("roles", "links", "not_reports", "case_types", "case_flags", "hate_types",
              "subjects", "reporter_roles", "referral_types", "perpetrator_roles")


def _run(session: Session, sql: str, params: dict[str, Any], d: DetectorConfig,
         subject: str) -> list[Hit]:
    used = {k: v for k, v in params.items() if f":{k}" in sql}
    statement = text(sql).bindparams(
        *(bindparam(k, expanding=True) for k in _EXPANDING if k in used),
        *(bindparam(k, type_=UTCDateTime()) for k in ("since", "as_of") if k in used),
    )
    hits = []
    for row in session.execute(statement, used):
        hits.append(Hit(d.name, subject, row.subject_id, row.case_id, row.reference,
                        int(row.n), row.owning_agency_id, row.lead_officer_id,
                        _route(d, subject, int(row.n), int(row.hate_n))))
    return hits


def _route(d: DetectorConfig, subject: str, n: int, hate_n: int) -> str:
    if d.name != "case_review_threshold":
        return ""
    if subject == "location":
        return "location"
    if n >= d.reports:
        return "reports"
    if d.hate_incidents is not None and hate_n >= d.hate_incidents:
        return "hate incident"
    return "reports with hate"
