"""The case list: the cases a user may see, filtered, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from storage.access import visible_cases
from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.cases.models import Case, CaseShare, CaseStatus, RiskLevel
from storage.workflows.models import WorkflowDefinition
from web.numbers import whole_number

PAGE_SIZE = 25
MAX_REFERENCE = 100
FILTERS = ("type", "status", "risk", "agency", "reference")


@dataclass
class Result:
    cases: list[Case]
    total: int
    page: int
    pages: int
    filters: dict[str, str]
    type_names: dict[str, str]
    agencies: list[Agency]

    def page_url_args(self, page: int) -> dict[str, Any]:
        return {k: v for k, v in self.filters.items() if v} | {"page": page}


def type_names(session: Session) -> dict[str, str]:
    """Each case type's name, as its newest published version gives it."""
    rows = session.execute(
        select(WorkflowDefinition.case_type, WorkflowDefinition.name)
        .order_by(WorkflowDefinition.case_type, WorkflowDefinition.version)
    ).all()
    return dict(sorted(dict(rows).items(), key=lambda kv: kv[1]))


def search(session: Session, user: User, args: Mapping[str, str]) -> Result:
    filters = {name: (args.get(name) or "").strip() for name in FILTERS}
    names = type_names(session)
    agencies = list(session.scalars(select(Agency).order_by(Agency.name)))
    where = [visible_cases(user)]
    if filters["type"] in names:
        where.append(Case.case_type == filters["type"])
    else:
        filters["type"] = ""
    if filters["status"] in {s.value for s in CaseStatus}:
        where.append(Case.status == CaseStatus(filters["status"]))
    else:
        filters["status"] = ""
    if filters["risk"] == "none":
        where.append(Case.risk_level.is_(None))
    elif filters["risk"] in {r.value for r in RiskLevel}:
        where.append(Case.risk_level == RiskLevel(filters["risk"]))
    else:
        filters["risk"] = ""
    agency_id = whole_number(filters["agency"])
    if agency_id is not None and any(a.id == agency_id for a in agencies):
        shared = exists(select(CaseShare.id).where(CaseShare.case_id == Case.id,
                                                   CaseShare.agency_id == agency_id))
        where.append(or_(Case.owning_agency_id == agency_id, shared))
    else:
        filters["agency"] = ""
    if len(filters["reference"]) > MAX_REFERENCE:
        # No reference is that long (and SQLite refuses a LIKE pattern of 50,000 bytes).
        where.append(false())
    elif filters["reference"]:
        escaped = (filters["reference"].upper().replace("\\", "\\\\")
                   .replace("%", "\\%").replace("_", "\\_"))
        where.append(Case.reference.like(f"%{escaped}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    try:
        page = min(max(int(args.get("page") or 1), 1), pages)
    except ValueError:
        page = 1
    found = list(session.scalars(
        select(Case).where(*where)
        .options(selectinload(Case.lead_officer))
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ))
    return Result(found, total, page, pages, filters, names, agencies)
