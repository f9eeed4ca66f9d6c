"""The detectors' settings: the shipped defaults (default.yaml beside this file) and a
partnership's own file on top of them, checked with every problem said in plain words and
located by file and line (the same reporting as workflow definitions).

A partnership's file names only what it changes: a detector it leaves out, and any setting
of a detector it leaves out, keep the shipped value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from casebridge.yamlsource import DocumentError, Problem, SourceDocument, load_yaml, load_yaml_file
from storage.cases.models import LinkKind, ParticipantRole
from storage.flags.models import FlagKind

DEFAULT_FILE = Path(__file__).with_name("default.yaml")

# The detectors Casebridge has, in the order a page lists their hits.
NAMES = ("repeat_victim", "repeat_location", "repeat_perpetrator", "case_review_threshold",
         "case_review_duty", "marac_escalation", "marac_repeat")
# What each is about: a person, or a location (the Case Review threshold: a person, or a
# location under its local "5 reports about one place" variant).
LOCATION_DETECTORS = frozenset({"repeat_location"})
# The Act's threshold: an area may set a lower one, never a higher one (shared/domain.md).
CASE_REVIEW_STATUTORY_MAXIMUM = 3
CASE_TYPE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class DetectorConfig:
    name: str
    enabled: bool = True
    reports: int = 1
    within_months: int = 6
    roles: tuple[str, ...] = ("victim", "complainant")
    case_types: tuple[str, ...] = ()  # empty: every type (but not_reports)
    case_flags: tuple[str, ...] = ()  # with case_types: a case of those types OR so flagged
    flag: str | None = None
    notify_owner: bool = True
    open_case: str | None = None
    once_per_window: bool = False
    # case_review_threshold only
    hate_case_types: tuple[str, ...] = ()
    hate_incidents: int | None = None
    reports_with_hate: int | None = None
    location_reports: int | None = None
    location_reporters: int = 2
    # case_review_duty only
    action_due_days: int | None = None
    # marac_repeat only
    referral_case_types: tuple[str, ...] = ()
    same_perpetrator: bool = True

    @property
    def subject(self) -> str:
        return "location" if self.name in LOCATION_DETECTORS else "person"

    @property
    def title(self) -> str:
        return TITLES[self.name]


TITLES = {
    "repeat_victim": "Repeat victim",
    "repeat_location": "Repeat location",
    "repeat_perpetrator": "Repeat perpetrator",
    "case_review_threshold": "ASB Case Review threshold met",
    "case_review_duty": "Tell the victim about the ASB Case Review",
    "marac_escalation": "MARAC potential escalation",
    "marac_repeat": "MARAC repeat",
}


@dataclass(frozen=True)
class DetectorsConfig:
    detectors: dict[str, DetectorConfig]
    not_reports: tuple[str, ...]
    same_incident_links: tuple[str, ...]
    source: str

    def __getitem__(self, name: str) -> DetectorConfig:
        return self.detectors[name]

    @property
    def enabled(self) -> list[DetectorConfig]:
        return [d for d in self.detectors.values() if d.enabled]


# What each setting must be: (kind, which detectors may have it; None: all).
_INT, _BOOL, _ROLES, _TYPES, _FLAGS, _FLAG, _TYPE, _OPT_INT = (
    "int", "bool", "roles", "types", "flags", "flag", "type", "optional int")
SETTINGS: dict[str, tuple[str, frozenset[str] | None]] = {
    "enabled": (_BOOL, None),
    "reports": (_INT, frozenset(NAMES) - {"marac_repeat"}),
    "within_months": (_INT, None),
    "roles": (_ROLES, frozenset(NAMES) - {"repeat_location"}),
    "case_types": (_TYPES, None),
    "case_flags": (_FLAGS, None),
    "flag": (_FLAG, None),
    "notify_owner": (_BOOL, None),
    "open_case": (_TYPE, None),
    "once_per_window": (_BOOL, None),
    "hate_case_types": (_TYPES, frozenset({"case_review_threshold"})),
    "hate_incidents": (_OPT_INT, frozenset({"case_review_threshold"})),
    "reports_with_hate": (_OPT_INT, frozenset({"case_review_threshold"})),
    "location_reports": (_OPT_INT, frozenset({"case_review_threshold"})),
    "location_reporters": (_INT, frozenset({"case_review_threshold"})),
    "action_due_days": (_OPT_INT, frozenset({"case_review_duty"})),
    "referral_case_types": (_TYPES, frozenset({"marac_repeat"})),
    "same_perpetrator": (_BOOL, frozenset({"marac_repeat"})),
}
LIMITS = {"reports": (1, 1000), "within_months": (1, 120), "hate_incidents": (1, 1000),
          "reports_with_hate": (1, 1000), "location_reports": (1, 1000),
          "location_reporters": (1, 1000), "action_due_days": (1, 365)}
TOP_LEVEL = {"not_reports", "same_incident_links", "detectors"}


class DetectorConfigError(DocumentError):
    """Every problem with a detectors file, each with its file, line and setting."""


def load(path: Path | str | None = None) -> DetectorsConfig:
    """The shipped defaults, with the file at `path` (if any) on top. Raises
    DetectorConfigError listing every problem."""
    defaults = _parse(load_yaml_file(DEFAULT_FILE), None)
    if path is None or str(path) == "":
        return defaults
    path = Path(path)
    if not path.is_file():
        raise DetectorConfigError([Problem(str(path), None, "", "there is no such file")])
    try:
        document = load_yaml_file(path)
    except DocumentError as exc:
        raise DetectorConfigError(exc.problems) from None
    return _parse(document, defaults)


def load_text(text: str, source: str = "<detectors>") -> DetectorsConfig:
    """As `load`, from text (tests, and checking a file before it is installed)."""
    defaults = load()
    try:
        document = load_yaml(text, source)
    except DocumentError as exc:
        raise DetectorConfigError(exc.problems) from None
    return _parse(document, defaults)


@lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> DetectorsConfig:
    return load(path or None)


def for_settings(settings: Any) -> DetectorsConfig:
    """The configuration the settings name (`detectors_file`; empty: the shipped defaults),
    read again only when the file changes."""
    path = str(getattr(settings, "detectors_file", "") or "")
    mtime = Path(path).stat().st_mtime if path and Path(path).is_file() else 0.0
    return _cached(path, mtime)


def _parse(document: SourceDocument, base: DetectorsConfig | None) -> DetectorsConfig:
    problems: list[Problem] = []
    data = document.data
    if not isinstance(data, dict):
        raise DetectorConfigError([document.problem((), "the file must be a mapping of "
                                                        "settings (name: value)")])
    for key in data:
        if key not in TOP_LEVEL:
            problems.append(document.problem(
                (key,), f"unknown setting {key!r}; expected one of {', '.join(sorted(TOP_LEVEL))}"))
    not_reports = base.not_reports if base else ()
    if "not_reports" in data:
        not_reports = _case_types(document, ("not_reports",), data["not_reports"], problems)
    links = base.same_incident_links if base else ()
    if "same_incident_links" in data:
        links = _choices(document, ("same_incident_links",), data["same_incident_links"],
                         [k.value for k in LinkKind], "kinds of link", problems)
    detectors = dict(base.detectors) if base else {}
    given = data.get("detectors", {})
    if given is None:
        given = {}
    if not isinstance(given, dict):
        problems.append(document.problem(("detectors",), "must be a mapping of detector "
                                                         "names to their settings"))
        given = {}
    for name, settings in given.items():
        path = ("detectors", name)
        if name not in NAMES:
            problems.append(document.problem(
                path, f"there is no detector called {name!r}; the detectors are "
                      f"{', '.join(NAMES)}"))
            continue
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            problems.append(document.problem(path, "must be a mapping of settings "
                                                   "(e.g. reports: 3)"))
            continue
        current = detectors.get(name, DetectorConfig(name))
        changes: dict[str, Any] = {}
        for key, value in settings.items():
            changes_key = _setting(document, name, key, value, problems)
            if changes_key is not None:
                changes[key] = changes_key[0]
        detectors[name] = replace(current, **changes)
    if base is None:
        missing = [n for n in NAMES if n not in detectors]
        if missing:
            problems.append(document.problem(("detectors",), "the shipped defaults must set "
                                                              f"every detector: {missing}"))
    for detector in detectors.values():
        _check_together(document, detector, problems)
    if problems:
        raise DetectorConfigError(problems)
    return DetectorsConfig({n: detectors[n] for n in NAMES if n in detectors},
                           tuple(not_reports), tuple(links), document.source)


def _setting(document: SourceDocument, detector: str, key: str, value: Any,
             problems: list[Problem]) -> tuple[Any] | None:
    path = ("detectors", detector, key)
    known = SETTINGS.get(key)
    if known is None or (known[1] is not None and detector not in known[1]):
        allowed = sorted(k for k, (_, only) in SETTINGS.items() if only is None or detector in only)
        problems.append(document.problem(
            path, f"{detector} has no setting {key!r}; its settings are {', '.join(allowed)}"))
        return None
    kind = known[0]
    before = len(problems)
    if kind in (_INT, _OPT_INT):
        if value is None and kind == _OPT_INT:
            return (None,)
        low, high = LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int):
            off = " (or null: off)" if kind == _OPT_INT else ""
            problems.append(document.problem(
                path, f"must be a whole number from {low} to {high}{off}, not {value!r}"))
        elif not low <= value <= high:
            problems.append(document.problem(path, f"must be from {low} to {high}, not {value}"))
        return (value,) if len(problems) == before else None
    if kind == _BOOL:
        if not isinstance(value, bool):
            problems.append(document.problem(path, f"must be true or false, not {value!r}"))
            return None
        return (value,)
    if kind == _ROLES:
        roles = _choices(document, path, value, [r.value for r in ParticipantRole
                                                 if r is not ParticipantRole.INCIDENT_LOCATION],
                         "roles", problems)
        if len(problems) == before and not roles:
            problems.append(document.problem(path, "name at least one role"))
        return (roles,) if len(problems) == before else None
    if kind == _TYPES:
        types = _case_types(document, path, value, problems)
        return (types,) if len(problems) == before else None
    if kind == _FLAGS:
        return (_choices(document, path, value, [f.value for f in FlagKind], "flags",
                         problems),)
    if kind == _FLAG:
        if value is None:
            return (None,)
        if value not in [f.value for f in FlagKind]:
            problems.append(document.problem(
                path, f"{value!r} is not a kind of flag; choose one of "
                      f"{', '.join(f.value for f in FlagKind)} (or null: no flag)"))
            return None
        return (value,)
    if kind == _TYPE:
        if value is None:
            return (None,)
        if not isinstance(value, str) or not CASE_TYPE_KEY.match(value):
            problems.append(document.problem(path, f"must be a case type's key such as "
                                                   f"asb_case_review (or null), not {value!r}"))
            return None
        return (value,)
    raise AssertionError(kind)


def _choices(document: SourceDocument, path: tuple[Any, ...], value: Any, allowed: list[str],
             what: str, problems: list[Problem]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.append(document.problem(path, f"must be a list of {what}, e.g. "
                                               f"[{', '.join(allowed[:2])}]"))
        return ()
    for index, item in enumerate(value):
        if item not in allowed:
            problems.append(document.problem(
                (*path, index), f"{item!r} is not one of the {what}: {', '.join(allowed)}"))
    return tuple(dict.fromkeys(str(v) for v in value))


def _case_types(document: SourceDocument, path: tuple[Any, ...], value: Any,
                problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.append(document.problem(path, "must be a list of case type keys, e.g. "
                                               "[asb, hate_crime]"))
        return ()
    for index, item in enumerate(value):
        if not isinstance(item, str) or not CASE_TYPE_KEY.match(item):
            problems.append(document.problem((*path, index),
                                             f"{item!r} is not a case type key (e.g. asb)"))
    return tuple(dict.fromkeys(str(v) for v in value))


def _check_together(document: SourceDocument, d: DetectorConfig,
                    problems: list[Problem]) -> None:
    path = ("detectors", d.name)
    if d.name == "case_review_threshold" and d.reports > CASE_REVIEW_STATUTORY_MAXIMUM:
        problems.append(document.problem(
            (*path, "reports"),
            f"the ASB Case Review threshold may be set lower than "
            f"{CASE_REVIEW_STATUTORY_MAXIMUM} complaints, never higher (not {d.reports})"))
    if d.name == "case_review_threshold" and d.hate_incidents is not None \
            and not d.hate_case_types:
        problems.append(document.problem(
            (*path, "hate_case_types"), "hate_incidents needs the case types that are hate "
                                        "incidents (the hate_motivated flag counts too)"))
    if d.name == "case_review_duty" and d.open_case is not None:
        problems.append(document.problem((*path, "open_case"),
                                         "the Case Review duty tells the lead officer; it "
                                         "does not open a case"))


def describe(d: DetectorConfig) -> str:
    """The rule in plain words, e.g. "3 reports in 6 months"."""
    months = f"{d.within_months} month{'s' if d.within_months != 1 else ''}"
    if d.name == "marac_repeat":
        return f"a new domestic abuse incident within {months} of a MARAC referral"
    noun = "incidents" if d.name == "marac_escalation" else "reports"
    return f"{d.reports} {noun} in {months}"


__all__ = ["DetectorConfig", "DetectorConfigError", "DetectorsConfig", "describe",
           "for_settings", "load", "load_text"]
