"""Stage answers for synthetic cases: the shapes forms.sampling gives, compiled per form.

forms.sampling.sample_answers is the reference (and what tests use); this does the same job
for a million cases: each form is compiled once into a list of field samplers, answers that
decide a case's route are weighted the way real cases go (most victims are contacted, most
restorative justice cases are not withdrawn), and dates that drive deadlines are realistic
(a MARAC is listed for the next monthly meeting, not a random day last month).
"""

from __future__ import annotations

import ast
import random
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import Any

from forms.model import FieldType, FormDefinition
from rules.expressions import Expression, dotted_name, parse
from workflows.interpreter import CaseState

# (form, field) -> weights of its choices; anything not listed is uniform.
ROUTE_WEIGHTS: dict[tuple[str, str], dict[str, float]] = {
    ("victim_contact", "contact_made"): {"yes": 0.78, "no": 0.22},
    ("no_contact_letter", "reply_received"): {"yes": 0.4, "no": 0.6},
    ("sara_assess", "outcome"): {"resolved": 0.72, "improved": 0.2, "not_resolved": 0.08},
    ("closure", "reason"): {"resolved": 0.62, "victim_request": 0.12, "no_contact": 0.1,
                            "transferred": 0.06, "other": 0.1},
    ("hc_report", "kind"): {"crime": 0.7, "non_crime_incident": 0.3},
    ("hc_report", "real_risk_of_harm"): {"yes": 0.55, "no": 0.45},
    ("hc_priority_check", "recorded_correctly"): {"yes": 0.9, "no": 0.1},
    ("hc_investigation_decision", "decision"): {"investigate": 0.75, "not_investigate": 0.25},
    ("hc_investigation", "outcome"): {"ongoing": 0.25, "charged": 0.2, "out_of_court": 0.1,
                                      "community_resolution": 0.15, "no_suspect": 0.15,
                                      "no_further_action": 0.15},
    ("hc_needs_assessment", "victim_rights"): {"high": 0.3, "standard": 0.7},
    ("hc_rj_information", "told_about_rj"): {"yes": 0.85, "no": 0.15},
    ("hc_rj_information", "interested"): {"yes": 0.25, "no": 0.6, "dont_know": 0.15},
    ("rj_suitability", "suitable"): {"yes": 0.78, "no": 0.22},
    ("rj_risk_assessment", "safe_to_proceed"): {"yes": 0.9, "no": 0.1},
    ("rj_consent", "consent_given"): {"yes": 0.8, "no": 0.2},
    ("rj_preparation", "method"): {"direct": 0.55, "indirect": 0.45},
    ("rj_conference", "agreement_reached"): {"yes": 0.8, "no": 0.2},
    ("rj_indirect", "agreement_reached"): {"yes": 0.7, "no": 0.3},
    ("marac_referral", "professional_judgement"): {"yes": 0.4, "no": 0.6},
    ("marac_referral", "escalation_known"): {"yes": 0.4, "no": 0.45, "dont_know": 0.15},
    ("marac_referral", "victim_consents"): {"yes": 0.7, "no": 0.3},
    ("marac_meeting", "heard"): {"yes": 0.92, "no": 0.08},
    ("marac_action_review", "next_step"): {"close": 0.8, "relist": 0.12, "transfer": 0.08},
    ("marac_action_review", "all_completed"): {"yes": 0.7, "no": 0.3},
    ("cr_application", "applicant_is"): {"victim": 0.7, "family": 0.1, "carer": 0.05,
                                         "councillor": 0.07, "mp": 0.05, "other": 0.03},
    ("cr_application", "victim_consent"): {"yes": 0.92, "no": 0.08},
    ("cr_threshold", "manager_override"): {"yes": 0.1, "no": 0.9},
    ("cr_appeal_request", "appealed"): {"yes": 0.15, "no": 0.85},
    ("cr_appeal_hearing", "decision"): {"upheld": 0.3, "not_upheld": 0.7},
    ("cr_review_meeting", "recommendations_made"): {"yes": 0.85, "no": 0.15},
    ("satisfaction_survey", "responded"): {"yes": 0.45, "no": 0.55},
}
# Any yes/no field of this name: people seldom pull out.
FIELD_WEIGHTS: dict[str, dict[str, float]] = {"withdrawn": {"yes": 0.04, "no": 0.96}}
# Scored checklists whose "yes" rate follows how serious the case is (Case.severity).
CHECKLISTS = frozenset({"dash_ric", "asb_risk_matrix", "asb_report"})
# Agencies a multiple choice may name that are not always in a partnership: the sampler
# leaves out any the partnership does not have (a practitioner could not pick them).
AGENCY_CHOICE_FIELDS = frozenset({"recommendations_for", "agencies_with_actions"})

_SENTENCES = (
    "Loud music and shouting late at night", "Youths gathering by the shops in the evening",
    "Victim feels unsafe leaving the flat", "Damage to the front door and windows",
    "Verbal abuse in the street on the way home", "Neighbour dispute over parking",
    "Repeated knocking on the door after midnight", "Graffiti on the garden wall",
    "Threats made over social media", "Dog let off the lead and rushing at children",
    "Items thrown from a balcony", "Drug dealing suspected from the address",
    "Abuse aimed at the family because of their religion", "Car tyres let down twice",
    "Victim has stopped using the bus", "Children frightened to play outside",
)
_FOLLOW_UPS = (
    "Spoke to the victim by phone.", "Home visit made with housing.",
    "Warning letter sent.", "Patrols increased at the location.",
    "Referred to victim support.", "CCTV requested from the council.",
    "Agreed to review in two weeks.", "Perpetrator spoken to by the neighbourhood team.",
    "Victim happy with the plan.", "Mediation offered to both households.",
    "Safety plan agreed with the IDVA.", "Landlord asked to enforce the tenancy.",
)
LONG_TEXTS: tuple[str, ...] = tuple(f"{s}. {f}" for s in _SENTENCES for f in _FOLLOW_UPS)
SHORT_TEXTS: tuple[str, ...] = (
    "Community centre, room 2", "Town hall", "Police station, Northgate", "Video call",
    "Housing office", "Victim's home", "Neighbourhood team", "Panel chair", "See notes",
    "Family liaison", "Duty officer", "Support worker",
)
LANGUAGE_TEXTS = ("Polish", "Urdu", "Romanian", "Arabic", "Punjabi", "Somali")

# Kinds of compiled field.
_CHOICE, _MULTI, _NUMBER, _DATE, _DATETIME, _TEXT, _LONG = range(7)


@dataclass(frozen=True)
class CaseContext:
    """What answers may depend on besides the form: the case's seriousness and the dates."""

    severity: float  # chance that a checklist question is answered "yes"
    partnership_types: frozenset[str]


@dataclass(frozen=True)
class _Field:
    key: str
    kind: int
    required: bool
    show_when: Callable[[Mapping[str, Any]], bool] | None
    values: tuple[Any, ...] = ()
    cum_weights: tuple[float, ...] | None = None
    low: int = 0
    high: int = 10
    max_length: int | None = None
    checklist: bool = False
    agency_choice: bool = False


Special = Callable[[random.Random, datetime, CaseState], Any]


class FormSampler:
    """One form, compiled: `sample(rng, at, context, earlier)` gives a plausible submission."""

    def __init__(self, form: FormDefinition, specials: Mapping[str, Special] | None = None):
        self.key = form.key
        self.specials = dict(specials or {})
        fields = []
        for f in form.fields:
            kind = {
                FieldType.CHOICE: _CHOICE, FieldType.YES_NO: _CHOICE,
                FieldType.YES_NO_UNKNOWN: _CHOICE, FieldType.MULTIPLE_CHOICE: _MULTI,
                FieldType.NUMBER: _NUMBER, FieldType.DATE: _DATE,
                FieldType.DATETIME: _DATETIME, FieldType.TEXT: _TEXT,
                FieldType.LONG_TEXT: _LONG,
            }.get(f.type)
            if kind is None and f.key not in self.specials:
                continue  # person, location, agency, file: they point at records
            values = f.choice_values
            weights = ROUTE_WEIGHTS.get((form.key, f.key)) or FIELD_WEIGHTS.get(f.key)
            cum = None
            if weights and values:
                cum = tuple(accumulate(weights.get(v, 0.0) for v in values))
            fields.append(_Field(
                key=f.key, kind=kind if kind is not None else _TEXT, required=f.required,
                show_when=condition(parse(f.show_when)) if f.show_when else None,
                values=values,
                cum_weights=cum,
                low=int(f.minimum) if f.minimum is not None else (1 if f.required else 0),
                high=int(f.maximum) if f.maximum is not None else 6,
                max_length=f.max_length,
                checklist=form.key in CHECKLISTS and "yes" in values and not cum,
                agency_choice=f.key in AGENCY_CHOICE_FIELDS,
            ))
        self.fields = tuple(fields)

    def sample(
        self, rng: random.Random, at: datetime, context: CaseContext, state: CaseState
    ) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        today = at.date()
        random_ = rng.random
        for f in self.fields:
            if f.show_when is not None and not f.show_when(answers):
                continue
            special = self.specials.get(f.key)
            if special is not None:
                answers[f.key] = special(rng, at, state)
                continue
            kind = f.kind
            if not f.required and random_() > (0.3 if kind == _LONG else 0.55):
                continue
            if kind == _CHOICE:
                if f.cum_weights is not None:
                    value = f.values[bisect_right(f.cum_weights, random_() * f.cum_weights[-1])]
                elif f.checklist:
                    roll = random_()
                    value = ("yes" if roll < context.severity
                             else "dont_know" if roll > 0.97 and "dont_know" in f.values
                             else "no")
                else:
                    value = f.values[int(random_() * len(f.values))]
            elif kind == _MULTI:
                values = f.values
                if f.agency_choice:
                    values = tuple(v for v in values if v in context.partnership_types)
                    if not values:
                        continue
                value = rng.sample(values, k=1 + int(random_() * min(3, len(values))))
            elif kind == _NUMBER:
                value = rng.randint(f.low, max(f.low, min(f.high, f.low + 8)))
            elif kind == _DATE:
                value = (today - timedelta(days=int(random_() * 6))).isoformat()
            elif kind == _DATETIME:
                day = today - timedelta(days=int(random_() * 4))
                value = datetime.combine(
                    day, time(8 + int(random_() * 12), 15 * int(random_() * 4))
                ).isoformat()
            elif kind == _LONG:
                value = LONG_TEXTS[int(random_() * len(LONG_TEXTS))]
            else:
                value = SHORT_TEXTS[int(random_() * len(SHORT_TEXTS))]
                if f.max_length:
                    value = value[: f.max_length]
            answers[f.key] = value
        return answers


# --- MARAC meetings: monthly, on the second Thursday -----------------------------------------


def marac_meeting_after(day: date, *, at_least_days: int = 5) -> date:
    """The first monthly MARAC meeting (second Thursday) at least `at_least_days` after day."""
    earliest = day + timedelta(days=at_least_days)
    year, month = earliest.year, earliest.month
    while True:
        first = date(year, month, 1)
        meeting = first + timedelta(days=(3 - first.weekday()) % 7 + 7)
        if meeting >= earliest:
            return meeting
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _listing_date(rng: random.Random, at: datetime, state: CaseState) -> str:
    return marac_meeting_after(at.date(), at_least_days=rng.choice((4, 6, 8))).isoformat()


def _meeting_date(rng: random.Random, at: datetime, state: CaseState) -> str:
    listed = (state.latest_answers().get("listing") or {}).get("meeting_date")
    return listed or at.date().isoformat()


def _next_meeting_date(rng: random.Random, at: datetime, state: CaseState) -> str:
    return marac_meeting_after(at.date(), at_least_days=21).isoformat()


def _recent_meeting(rng: random.Random, at: datetime, state: CaseState) -> str:
    return (at.date() - timedelta(days=rng.randint(0, 3))).isoformat()


SPECIALS: dict[str, dict[str, Special]] = {
    "marac_listing": {"meeting_date": _listing_date},
    "marac_meeting": {"meeting_date": _meeting_date, "next_meeting_date": _next_meeting_date},
    "cr_review_meeting": {"meeting_date": _recent_meeting},
}


def compile_forms(forms: Mapping[str, FormDefinition]) -> dict[str, FormSampler]:
    return {key: FormSampler(form, SPECIALS.get(key)) for key, form in forms.items()}


# --- show_when conditions, compiled --------------------------------------------------------

_ORDER = {ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
          ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b}


def condition(expression: Expression) -> Callable[[Mapping[str, Any]], bool]:
    """A show_when condition as a function of the answers so far. The simple shapes forms
    use (answers.x == 'a', !=, in [...], >= n, and) become closures with the semantics of
    rules.expressions; anything else is evaluated by rules.expressions itself."""
    compiled = _compile(expression.tree)
    if compiled is not None:
        return compiled
    return lambda answers: expression.evaluate({"answers": answers})


def _compile(node: ast.expr) -> Callable[[Mapping[str, Any]], bool] | None:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        parts = [_compile(v) for v in node.values]
        if any(p is None for p in parts):
            return None
        return lambda answers: all(p(answers) for p in parts)  # type: ignore[misc]
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    name = dotted_name(node.left) if isinstance(node.left, ast.Attribute) else None
    if name is None or not name.startswith("answers.") or name.count(".") != 1:
        return None
    key = name.split(".", 1)[1]
    right, op = node.comparators[0], node.ops[0]
    if isinstance(right, ast.Constant) and not isinstance(right.value, bool | type(None)):
        value = right.value
        if isinstance(op, ast.Eq):
            return lambda answers: answers.get(key) == value
        if isinstance(op, ast.NotEq):
            return lambda answers: answers.get(key) != value
        order = _ORDER.get(type(op))
        if order is not None and isinstance(value, int | float):
            def ordered(answers: Mapping[str, Any]) -> bool:
                found = answers.get(key)
                if found is None:
                    return False
                try:
                    return bool(order(found, value))
                except TypeError:
                    return False
            return ordered
        return None
    if (isinstance(op, ast.In) and isinstance(right, ast.List)
            and all(isinstance(e, ast.Constant) for e in right.elts)):
        options = [e.value for e in right.elts]  # type: ignore[attr-defined]

        def within(answers: Mapping[str, Any]) -> bool:
            found = answers.get(key)
            if isinstance(found, list):
                return any(item in options for item in found)
            try:
                return found in options
            except TypeError:
                return False
        return within
    return None
