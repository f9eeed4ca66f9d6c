"""Reading a minimum-standards file: YAML -> marshmallow -> model -> checks of meaning.

Like case types (`workflows.loader`), every problem is reported at once with file, line and
path, in plain words, so a manager editing the file sees the whole list.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from casebridge.yamlsource import (
    DocumentError,
    Path_,
    Problem,
    SourceDocument,
    load_yaml,
    load_yaml_file,
    marshmallow_problems,
)
from rules.calendars import REGIONS
from rules.standards.model import (
    CalendarSpec,
    Event,
    EventKind,
    Ladder,
    LadderLevel,
    Measures,
    Recipient,
    Standard,
    StandardsSet,
)
from rules.standards.schema import StandardsSchema, closures_of
from workflows.model import Definition, Duration, DurationUnit

DEFAULT_FILE = Path(__file__).parent / "default.yaml"
MEETING_KINDS = ("marac", "asbrac", "case_review_panel", "vulnerable_persons_panel", "other")
CASE_EVENTS = (EventKind.CASE_OPENED, EventKind.STAGE_STARTED, EventKind.STAGE_COMPLETED)


def load_standards_text(
    text: str, source: str, case_types: Mapping[str, Definition] | None = None
) -> StandardsSet:
    return build_standards(load_yaml(text, source), case_types)


def load_standards_file(
    path: Path, case_types: Mapping[str, Definition] | None = None
) -> StandardsSet:
    return build_standards(load_yaml_file(path), case_types)


def load_default() -> StandardsSet:
    return load_standards_file(DEFAULT_FILE)


def build_standards(
    document: SourceDocument, case_types: Mapping[str, Definition] | None = None
) -> StandardsSet:
    """The standards in a document, checked against the case types they name (the shipped
    ones unless given: publishing passes the published ones too)."""
    from workflows.loader import content_hash, latest_shipped

    case_types = latest_shipped() if case_types is None else case_types
    if not isinstance(document.data, dict):
        raise DocumentError([document.problem((), "a standards file is a mapping of keys")])
    try:
        data = StandardsSchema().load(document.data)
    except ValidationError as exc:
        raise DocumentError(marshmallow_problems(document, exc.messages)) from None
    checker = _Checker(document, case_types)
    ladders = {key: checker.ladder(key, raw) for key, raw in data["ladders"].items()}
    standards = {key: checker.standard(key, raw, ladders)
                 for key, raw in data["standards"].items()}
    calendar = checker.calendar(data["calendar"])
    deadlines = data["deadlines_ladder"]
    if deadlines is not None:
        if deadlines not in ladders:
            checker.add(("deadlines_ladder",), f"there is no ladder '{deadlines}'"
                        f"{checker.known(ladders)}")
        elif len(ladders[deadlines].levels) != 1:
            checker.add(("deadlines_ladder",),
                        "stage and action deadlines have a warning and a breach only: "
                        "choose a ladder with one level")
    if checker.problems:
        raise DocumentError(checker.problems)
    return StandardsSet(
        partnership=data["partnership"], version=data["version"], calendar=calendar,
        digest_at=data["digest_at"], deadlines_ladder=deadlines or "",
        ladders=ladders, standards=standards, content_hash=content_hash(document.data),
        source=document.source, description=data["description"], raw=document.data,
    )


class _Checker:
    def __init__(self, document: SourceDocument, case_types: Mapping[str, Definition]) -> None:
        self.doc, self.case_types = document, case_types
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    @staticmethod
    def known(names: Mapping[str, Any] | list[str]) -> str:
        return f" (known: {', '.join(sorted(names))})" if names else ""

    def calendar(self, raw: dict[str, Any]) -> CalendarSpec:
        if raw["region"] not in REGIONS:
            self.add(("calendar", "region"), f"unknown region '{raw['region']}': use "
                     + ", ".join(REGIONS))
        if raw["day_ends"] <= raw["day_starts"]:
            self.add(("calendar", "day_ends"), "the working day must end after it starts")
        return CalendarSpec(region=raw["region"], closures=closures_of(raw["closures"]),
                            day_starts=raw["day_starts"], day_ends=raw["day_ends"])

    def ladder(self, key: str, raw: dict[str, Any]) -> Ladder:
        path: Path_ = ("ladders", key)
        levels = []
        for n, level in enumerate(raw["levels"]):
            after: Duration | None = level["after"]
            if n == 0 and after is not None:
                self.add((*path, "levels", 0, "after"),
                         "the first level is the breach itself: it has no 'after'")
                after = None
            elif n > 0 and after is None:
                self.add((*path, "levels", n), "say how long after the level before this "
                         "one it is reached, e.g. 'after: 2 working days'")
            elif n > 0 and after is not None and (
                    after.unit is not DurationUnit.WORKING_DAYS or after.amount < 1):
                self.add((*path, "levels", n, "after"),
                         "a delay between levels is one or more working days")
            if not level["to"]:
                self.add((*path, "levels", n, "to"), "name who this level tells")
            levels.append(LadderLevel(n + 1, tuple(level["to"]), after))
        return Ladder(key=key, name=raw["name"] or key.replace("_", " "),
                      warning_to=tuple(raw["warning"]), levels=tuple(levels),
                      digest=frozenset(raw["digest"]))

    def standard(self, key: str, raw: dict[str, Any], ladders: Mapping[str, Ladder]) -> Standard:
        path: Path_ = ("standards", key)
        measures = Measures(raw["measures"])
        if raw["ladder"] not in ladders:
            self.add((*path, "ladder"), f"there is no ladder '{raw['ladder']}'"
                     f"{self.known(ladders)}")
        clocks = [name for name in ("within", "every", "until") if raw[name] is not None]
        if len(clocks) != 1:
            self.add(path, "give exactly one clock: 'within', 'every' or 'until'"
                     + (f" (found {', '.join(clocks)})" if clocks else ""))
        for name in ("within", "every"):
            duration = raw[name]
            if duration is not None and duration.unit is DurationUnit.WORKING_HOURS:
                self.add((*path, name), "standards are counted in working days or calendar "
                         "days; use warn_before for hours")
        self._case_types(path, raw, measures)
        self._events(path, raw, measures)
        if measures is Measures.ACTIONS:
            if raw["every"] is not None:
                self.add((*path, "every"), "an action is done once: use 'within' or 'until'")
            if raw["until"] is not None and raw["raised_at"] is None:
                self.add((*path, "until"), "'until: next_meeting' needs 'raised_at', the kind "
                         "of meeting the actions come from")
            if raw["raised_at"] is not None and raw["raised_at"] not in MEETING_KINDS:
                self.add((*path, "raised_at"), f"'{raw['raised_at']}' is not a kind of "
                         f"meeting: use {', '.join(MEETING_KINDS)}")
        else:
            for name in ("until", "raised_at"):
                if raw[name] is not None:
                    self.add((*path, name), f"'{name}' is for standards that measure actions")
        self._warning(path, raw)
        return Standard(
            key=key, name=raw["name"], measures=measures, case_types=tuple(raw["case_types"]),
            risk=tuple(dict.fromkeys(raw["risk"])), starts=raw["from_"], met_by=raw["met_by"],
            ladder=raw["ladder"], within=raw["within"], every=raw["every"],
            until_next_meeting=raw["until"] == "next_meeting", raised_at=raw["raised_at"],
            warn_before=raw["warn_before"], description=raw["description"],
        )

    def _case_types(self, path: Path_, raw: dict[str, Any], measures: Measures) -> None:
        if not raw["case_types"] and measures is Measures.CASES:
            self.add(path, "name the case types it measures in 'case_types'")
        for n, case_type in enumerate(raw["case_types"]):
            if case_type not in self.case_types:
                self.add((*path, "case_types", n), f"there is no case type '{case_type}'"
                         f"{self.known(self.case_types)}")

    def _events(self, path: Path_, raw: dict[str, Any], measures: Measures) -> None:
        allowed_from = CASE_EVENTS if measures is Measures.CASES else (EventKind.ACTION_CREATED,)
        allowed_met = ((EventKind.STAGE_STARTED, EventKind.STAGE_COMPLETED)
                       if measures is Measures.CASES else (EventKind.ACTION_DONE,))
        for name, events, allowed in (("from", raw["from_"], allowed_from),
                                      ("met_by", raw["met_by"], allowed_met)):
            for event in events:
                if event.kind not in allowed:
                    self.add((*path, name), f"{event.kind.value} cannot be used here: a "
                             f"standard on {measures.value} uses "
                             + ", ".join(k.value for k in allowed))
                    continue
                self._stage(path, name, raw["case_types"], event)

    def _stage(self, path: Path_, name: str, case_types: list[str], event: Event) -> None:
        if event.stage is None:
            return
        for case_type in case_types:
            definition = self.case_types.get(case_type)
            if definition is None:
                continue
            if event.stage not in definition.stages:
                self.add((*path, name), f"the case type '{case_type}' has no stage "
                         f"'{event.stage}'{self.known(list(definition.stages))}")
                continue
            form = definition.stages[event.stage].form
            for answer in event.answers:
                if form is None:
                    self.add((*path, name), f"the stage '{event.stage}' has no form, so it "
                             f"has no answer '{answer}'")
                    continue
                fields = _form_fields(form)
                if fields is not None and answer not in fields:
                    self.add((*path, name), f"the form '{form}' has no field '{answer}'"
                             f"{self.known(fields)}")

    def _warning(self, path: Path_, raw: dict[str, Any]) -> None:
        warn: Duration | None = raw["warn_before"]
        clock: Duration | None = raw["within"] or raw["every"]
        if warn is None:
            return
        if warn.unit is DurationUnit.WORKING_HOURS and warn.amount > 8:
            self.add((*path, "warn_before"), "a warning in working hours is at most 8 hours "
                     "(one working day): write it in working days instead")
        if clock is None:
            return
        if (warn.unit is DurationUnit.CALENDAR_DAYS) != (clock.unit is DurationUnit.CALENDAR_DAYS):
            self.add((*path, "warn_before"), "count the warning like the clock: both in "
                     "calendar days, or both in working time")
        elif warn.unit is clock.unit and warn.amount >= clock.amount:
            self.add((*path, "warn_before"), f"the warning ({warn}) must come before the "
                     f"deadline ({clock})")


def _form_fields(form_key: str) -> list[str] | None:
    from forms.loader import shipped_forms

    form = shipped_forms().get(form_key)
    return None if form is None else [f.key for f in form.fields]


def recipients_used(standards: StandardsSet) -> set[Recipient]:
    return {r for ladder in standards.ladders.values()
            for level in range(len(ladder.levels) + 1) for r in ladder.recipients(level)}
