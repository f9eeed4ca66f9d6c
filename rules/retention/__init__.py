"""Retention schedules per case type (default.yaml beside this file, or a partnership's own
file named by the `retention_file` setting), checked with every problem said in words."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

DEFAULT_FILE = Path(__file__).with_name("default.yaml")
OUTCOMES = ("review", "delete")
CASE_TYPE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ScheduleError(ValueError):
    """The schedule file is wrong; the message lists every problem."""


@dataclass(frozen=True)
class Rule:
    years: int
    then: str  # review or delete

    def due_on(self, closed_on: date) -> date:
        """The anniversary `years` on (29 February closes into 28 February)."""
        try:
            return closed_on.replace(year=closed_on.year + self.years)
        except ValueError:
            return closed_on.replace(year=closed_on.year + self.years, day=28)


@dataclass(frozen=True)
class Schedule:
    default: Rule
    case_types: dict[str, Rule] = field(default_factory=dict)
    source: str = ""

    def rule_for(self, case_type: str) -> Rule:
        return self.case_types.get(case_type, self.default)


def _rule(raw: Any, where: str, problems: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: give years and then")
        return None
    unknown = set(raw) - {"years", "then"}
    if unknown:
        problems.append(f"{where}: unknown {', '.join(sorted(map(str, unknown)))}")
    years, then = raw.get("years"), raw.get("then", "review")
    ok = True
    if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 100:
        problems.append(f"{where}.years: a whole number of years from 1 to 100")
        ok = False
    if then not in OUTCOMES:
        problems.append(f"{where}.then: review or delete")
        ok = False
    return Rule(years, then) if ok else None


def parse(text: str, source: str = "<text>") -> Schedule:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScheduleError(f"{source}: not YAML: {exc}") from None
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ScheduleError(f"{source}: give default and case_types")
    unknown = set(raw) - {"default", "case_types"}
    if unknown:
        problems.append(f"unknown {', '.join(sorted(map(str, unknown)))}")
    default = _rule(raw.get("default"), "default", problems)
    types: dict[str, Rule] = {}
    given = raw.get("case_types") or {}
    if not isinstance(given, dict):
        problems.append("case_types: a case type key and its rule, one a line")
        given = {}
    for key, value in given.items():
        if not isinstance(key, str) or not CASE_TYPE_KEY.match(key):
            problems.append(f"case_types: {key!r} is not a case type key")
            continue
        rule = _rule(value, f"case_types.{key}", problems)
        if rule is not None:
            types[key] = rule
    if problems or default is None:
        raise ScheduleError(f"{source}: " + "; ".join(problems))
    return Schedule(default, types, source)


def load(path: str | Path | None = None) -> Schedule:
    """The partnership's schedule (`path`), else the shipped one."""
    file = Path(path) if path else DEFAULT_FILE
    return parse(file.read_text(encoding="utf-8"), str(file))
