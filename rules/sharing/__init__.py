"""The information sharing agreement: which agency types a shared case of each type may be
seen by. Declarative (YAML, validated with file:line like the standards), published as
versions in the database (storage.sharing), read by the access model (storage.access)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casebridge.yamlsource import DocumentError, Problem, SourceDocument, load_yaml
from storage.agencies.models import AgencyType

DEFAULT_FILE = Path(__file__).parent / "default.yaml"
ALL = "all"
_CASE_TYPE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class SharingAgreement:
    partnership: str
    version: int
    description: str
    case_types: Mapping[str, frozenset[AgencyType]]
    otherwise: frozenset[AgencyType]
    content_hash: str

    def agency_types_for(self, case_type: str) -> frozenset[AgencyType]:
        return self.case_types.get(case_type, self.otherwise)

    def allows(self, case_type: str, agency_type: AgencyType) -> bool:
        return agency_type in self.agency_types_for(case_type)

    def case_types_refused(self, agency_type: AgencyType) -> list[str]:
        """The named case types this agency type may not see through a share."""
        return sorted(t for t, allowed in self.case_types.items() if agency_type not in allowed)

    def case_types_allowed(self, agency_type: AgencyType) -> list[str]:
        return sorted(t for t, allowed in self.case_types.items() if agency_type in allowed)


def load_sharing_text(text: str, source: str,
                      known_case_types: set[str] | None = None) -> SharingAgreement:
    return build_agreement(load_yaml(text, source), text, known_case_types)


def load_sharing_file(path: Path, known_case_types: set[str] | None = None) -> SharingAgreement:
    return load_sharing_text(path.read_text("utf-8"), str(path), known_case_types)


def load_default() -> SharingAgreement:
    return load_sharing_file(DEFAULT_FILE)


def build_agreement(document: SourceDocument, text: str,
                    known_case_types: set[str] | None = None) -> SharingAgreement:
    """Every problem at once, each with file:line, so the whole list can be fixed in one go.
    `known_case_types`, when given, refuses a case type nobody has defined (a typo would
    otherwise leave the real type on the `otherwise` list)."""
    data = document.data
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise DocumentError([document.problem((), "the file must be a mapping of keys")])
    for key in data:
        if key not in ("partnership", "version", "description", "case_types", "otherwise"):
            problems.append(document.problem((key,), "unknown key"))
    partnership = data.get("partnership")
    if not isinstance(partnership, str) or not partnership.strip() or len(partnership) > 40:
        problems.append(document.problem(("partnership",),
                                         "give the partnership's name (up to 40 characters)"))
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append(document.problem(("version",), "give a version number, 1 or more"))
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append(document.problem(("description",), "must be text"))
    case_types: dict[str, frozenset[AgencyType]] = {}
    raw_types = data.get("case_types")
    if not isinstance(raw_types, dict) or not raw_types:
        problems.append(document.problem(
            ("case_types",), "list each case type with the agency types that may see it"))
        raw_types = {}
    for case_type, value in raw_types.items():
        path = ("case_types", case_type)
        if not isinstance(case_type, str) or not set(case_type) <= _CASE_TYPE_CHARS:
            problems.append(document.problem(path, "a case type is lower case letters, digits "
                                                   "and underscores"))
            continue
        if known_case_types is not None and case_type not in known_case_types:
            known = ", ".join(sorted(known_case_types))
            problems.append(document.problem(
                path, f"no case type is called '{case_type}' (known: {known})"))
        case_types[case_type] = _agency_types(document, path, value, problems)
    otherwise = _agency_types(document, ("otherwise",), data.get("otherwise", []), problems)
    if problems:
        raise DocumentError(problems)
    assert isinstance(partnership, str)
    assert isinstance(version, int)
    return SharingAgreement(
        partnership=partnership.strip(), version=version, description=str(description).strip(),
        case_types=case_types, otherwise=otherwise,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest())


def _agency_types(document: SourceDocument, path: tuple[Any, ...], value: Any,
                  problems: list[Problem]) -> frozenset[AgencyType]:
    if not isinstance(value, list):
        problems.append(document.problem(path, "give a list of agency types, e.g. [police, "
                                               "council], or [all], or [] for none"))
        return frozenset()
    found: set[AgencyType] = set()
    known = {t.value for t in AgencyType}
    for index, item in enumerate(value):
        if item == ALL:
            found.update(AgencyType)
        elif isinstance(item, str) and item in known:
            found.add(AgencyType(item))
        else:
            names = ", ".join(sorted(known))
            problems.append(document.problem(
                (*path, index), f"'{item}' is not an agency type (one of: {names}, all)"))
    return frozenset(found)


def describe(agreement: SharingAgreement) -> list[tuple[str, str]]:
    """(case type, who may see it when shared) in words, the unnamed case types last."""
    def words(types: frozenset[AgencyType]) -> str:
        if types == frozenset(AgencyType):
            return "every agency type"
        if not types:
            return "no other agency (the owner only)"
        return ", ".join(t.value.replace("_", " ") for t in AgencyType if t in types)

    lines = [(case_type, words(types)) for case_type, types in sorted(agreement.case_types.items())]
    lines.append(("any other case type", words(agreement.otherwise)))
    return lines
