"""The home page: what is waiting for me and for my agency, most urgent first, and "Take
this" to make queued work my own."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict

from casebridge import clock
from storage.access import can_see_case
from storage.accounts.models import Role, User
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases.models import Action, StageInstance
from storage.cases.services import claim_action, claim_stage
from storage.errors import InvalidState, NotFound
from web import navigation
from web.auth import current_actor, current_user
from web.database import session
from web.errors import refuse
from web.formatting import date_text, due_text
from web.inbox.queries import (
    NOT_SET,
    Filters,
    Inbox,
    Item,
    Window,
    area_options,
    case_type_options,
)

blueprint = Blueprint("inbox", __name__)

navigation.HOME_ENDPOINT = "inbox.index"
if ("Inbox", "inbox.index") not in navigation.ITEMS:
    navigation.ITEMS.insert(0, ("Inbox", "inbox.index"))

RISK_LABELS = {"high": "High", "medium": "Medium", "standard": "Standard", NOT_SET: "Not set"}
DUE_LABELS = {"all": "All", "overdue": "Overdue", "week": "Due this week"}
RISK_CLASSES = {"high": "govuk-tag--red", "medium": "govuk-tag--orange",
                "standard": "govuk-tag--blue"}


def may_work(user: User) -> bool:
    """Anyone may take work except someone who only audits."""
    return any(role is not Role.AUDITOR for role in user.roles)


@blueprint.get("/")
def index() -> Any:
    return _page(request.args)


@blueprint.post("/inbox/claim")
def claim() -> Any:
    db, user = session(), current_user()
    return_to = _safe_path(request.form.get("return_to"))
    stage_id, action_id = _int(request.form.get("stage_id")), _int(request.form.get("action_id"))
    if (stage_id is None) == (action_id is None):
        abort(400)
    if stage_id is not None:
        stage = db.get(StageInstance, stage_id, options=[joinedload(StageInstance.case)])
        if stage is None:
            abort(404)
        if not can_see_case(db, user, stage.case):
            refuse(404, entity=stage, case_id=stage.case_id)
        reference, what = stage.case.reference, None
    else:
        action = db.get(Action, action_id, options=[joinedload(Action.case)])
        if action is None:
            abort(404)
        if not can_see_case(db, user, action.case):
            refuse(404, entity=action, case_id=action.case_id)
        reference, what = action.case.reference, action.title
    if not may_work(user):
        abort(403)
    try:
        if stage_id is not None:
            claim_stage(db, current_actor(), stage_instance_id=stage_id)
            inbox = _inbox(Filters())
            what = inbox.stage_name(stage.case, stage.stage_key)
        else:
            claim_action(db, current_actor(), action_id=action_id)  # type: ignore[arg-type]
    except NotFound:
        abort(404)
    except InvalidState as refused:
        db.rollback()  # nothing of the attempt is kept, and the page below reads afresh
        query = urlsplit(return_to).query
        return _page(MultiDict(parse_qsl(query)), claim_error=str(refused)), 409
    flash(f"You have taken “{what}” on {reference}. It is now in your work.", "success")
    return redirect(return_to, 303)


# --- the page ------------------------------------------------------------------------------


def _page(args: Mapping[str, str], *, claim_error: str | None = None) -> str:
    db, user = session(), current_user()
    case_types = case_type_options(db)
    filters = Filters.from_args(args, [key for key, _ in case_types])
    areas = area_options(db)
    if filters.area and filters.area not in areas:
        areas = sorted([*areas, filters.area])
    inbox = _inbox(filters)
    mine = inbox.section(mine=True, page=_int(args.get("mine_page")) or 1)
    queue = inbox.section(mine=False, page=_int(args.get("queue_page")) or 1)
    _present([*mine.items, *queue.items])
    pages = {"mine_page": mine.page, "queue_page": queue.page}
    # A list of cases is audited like any other: who was shown which cases, once a page.
    record(db, current_actor(), AuditAction.SEARCH, entity_type="cases", detail={
        "purpose": "task inbox", "filters": filters.as_args(), "pages": pages,
        "shown": sorted({item.case.id for item in [*mine.items, *queue.items]}),
    })

    def link(**changes: Any) -> str:
        values = {**filters.as_args(), **{k: v for k, v in pages.items() if v > 1}, **changes}
        anchor = values.pop("_anchor", None)
        values = {k: v for k, v in values.items() if v not in (None, "", 1)}
        return url_for("inbox.index", _anchor=anchor, **values)

    return render_template(
        "inbox/index.html",
        filters=filters,
        options={
            "case_type": [{"value": "", "text": "Any case type"}]
            + [{"value": key, "text": name} for key, name in case_types],
            "risk": [{"value": "", "text": "Any risk"}]
            + [{"value": key, "text": label} for key, label in RISK_LABELS.items()],
            "area": [{"value": "", "text": "Any area"}]
            + [{"value": area, "text": area} for area in areas],
            "due": [{"value": key, "text": label, "checked": filters.due == key}
                    | ({"hint": {"text": "By the end of Sunday"}} if key == "week" else {})
                    for key, label in DUE_LABELS.items()],
        },
        risk_classes=RISK_CLASSES,
        selected=_selected_filters(filters, dict(case_types), link),
        mine=mine,
        queue=queue,
        mine_pagination=_pagination(mine.page, mine.pages, "Pages of work assigned to you",
                                    lambda n: link(mine_page=n, _anchor="mine")),
        queue_pagination=_pagination(queue.page, queue.pages, "Pages of your agency's queue",
                                     lambda n: link(queue_page=n, _anchor="queue")),
        claim_url=url_for("inbox.claim"),
        may_take=may_work(user),
        return_to=request.full_path.rstrip("?") if request.method == "GET" else link(),
        claim_error=claim_error,
        role_label=lambda role: role.replace("_", " ") + "s",
    )


def _inbox(filters: Filters) -> Inbox:
    zone = ZoneInfo(current_app.extensions["casebridge.runtime"].settings.timezone)
    return Inbox(session(), current_user(), filters, Window.at(clock.now(), zone))


def _item_url(item: Any) -> str:
    if item.kind == "stage":
        return url_for("stages.form", reference=item.case.reference, stage_id=item.id)
    return url_for("actions.show", action_id=item.id)


# A reference or id made only of these characters reads the same in a URL (nothing to
# quote), so a row's links can be the built pattern with the value put in.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]+")
_SLOT = "__slot__"


def _present(items: list[Item]) -> None:
    """What each row shows, worked out once per request rather than per row in the
    template: its links (url_for builds each pattern once; the same address as url_for
    would give), its due date in words and whether it is overdue."""
    case_link = url_for("cases.show", reference=_SLOT)
    stage_link = url_for("stages.form", reference=_SLOT, stage_id=0)
    action_link = url_for("actions.show", action_id=0)
    now = clock.now()
    for item in items:
        reference = item.case.reference
        plain = _URL_SAFE.fullmatch(reference) is not None
        item.case_url = (case_link.replace(_SLOT, reference) if plain
                         else url_for("cases.show", reference=reference))
        if item.kind == "stage":
            item.url = (stage_link.replace(_SLOT, reference).removesuffix("/0") + f"/{item.id}"
                        if plain else _item_url(item))
        else:
            item.url = action_link.removesuffix("/0") + f"/{item.id}"
        if item.due_at is not None:
            item.overdue = item.due_at < now
            item.due_date_text = date_text(item.due_at)
            item.due_words = due_text(item.due_at)


def _selected_filters(filters: Filters, type_names: dict[str, str],
                      link: Callable[..., str]) -> list[dict[str, Any]]:
    """The MoJ filter's "Selected filters": each one a link that removes it."""
    chosen = []
    if filters.case_type:
        chosen.append(("Case type", type_names.get(filters.case_type, filters.case_type),
                       {"case_type": None}))
    if filters.risk:
        chosen.append(("Risk", RISK_LABELS[filters.risk], {"risk": None}))
    if filters.area:
        chosen.append(("Area", filters.area, {"area": None}))
    if filters.due != "all":
        chosen.append(("Due", DUE_LABELS[filters.due], {"due": None}))
    return [
        {"heading": {"text": heading},
         "items": [{"href": link(mine_page=None, queue_page=None, **remove), "text": text}]}
        for heading, text, remove in chosen
    ]


def _pagination(page: int, pages: int, label: str, href: Callable[[int], str]
                ) -> dict[str, Any] | None:
    """GOV.UK pagination: first, last, and the pages either side of this one."""
    if pages <= 1:
        return None
    items: list[dict[str, Any]] = []
    previous = 0
    for number in sorted({1, pages, page - 1, page, page + 1} & set(range(1, pages + 1))):
        if number - previous > 1:
            items.append({"ellipsis": True})
        items.append({"number": number, "href": href(number), "current": number == page})
        previous = number
    params: dict[str, Any] = {"items": items, "landmarkLabel": label}
    if page > 1:
        params["previous"] = {"href": href(page - 1)}
    if page < pages:
        params["next"] = {"href": href(page + 1)}
    return params


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**53 else None


def _safe_path(target: str | None) -> str:
    """Back to the inbox page the form was on: only ever a path on this site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("inbox.index")
