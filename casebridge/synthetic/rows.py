"""The columns the bulk writer fills, and how a row's values travel from worker to database.

Each table's columns are split in two: the "head" columns hold ids the writer assigns as
rows arrive in order (a stage's id depends on how many stages earlier cases had), the "tail"
holds everything a worker can settle on its own. For PostgreSQL a worker renders the tail as
COPY text, so the writer only prefixes the ids; for SQLite it stays a tuple of Python values
for an executemany insert.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import storage.models  # noqa: F401 (every table registered on the metadata)
from storage.base import Base

# table -> (head columns the writer fills, tail columns the worker fills). Columns the models
# give a Python-side default (e.g. the people's normalised search names) are added to the
# tail and computed as the ORM would: see EXTRAS.
_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "locations": (("id",), (
        "description", "address_line_1", "address_line_2", "town", "postcode", "area", "ward",
        "created_at",
    )),
    "people": (("id",), (
        "given_name", "family_name", "known_as", "date_of_birth", "gender", "preferred_contact",
        "phone", "email", "safe_to_leave_messages", "needs_interpreter", "language",
        "restricted", "created_by_agency_id", "created_at", "updated_at",
    )),
    "person_addresses": (("id", "person_id"), ("location_id", "kind", "from_date")),
    "vulnerabilities": (("id", "person_id"), ("kind", "detail", "recorded_at")),
    "cases": (("reference",), (
        "id", "case_type", "definition_version", "definition_hash", "title", "summary", "status",
        "risk_level", "owning_agency_id", "lead_officer_id", "restricted", "workflow_state",
        "opened_at", "closed_at", "closure_reason", "created_by_id", "created_at", "updated_at",
        "version",
    )),
    "case_shares": (("id",), ("case_id", "agency_id", "shared_at")),
    "case_participants": (("id", "person_id"), ("case_id", "role", "location_id", "added_at")),
    "stage_instances": (("id",), (
        "case_id", "stage_key", "sequence", "status", "form_key", "assignee_user_id",
        "assignee_agency_id", "assignee_role", "opened_at", "warn_at", "due_at",
        "completed_at", "completed_by_id", "form_data",
    )),
    "actions": (("id", "stage_instance_id"), (
        "case_id", "title", "detail", "assigned_agency_id", "assigned_user_id", "status",
        "due_at", "decline_reason", "outcome", "completed_at", "created_by_id", "created_at",
        "updated_at",
    )),
}


class _Parameters:
    """What a column default callable sees: the other values of the row being inserted."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:
        return self.row


def _extras(table: str) -> tuple[tuple[str, Callable[[_Parameters], Any]], ...]:
    """Columns not filled here that the model fills on insert with a Python-side default."""
    head, tail = _COLUMNS[table]
    found = []
    for column in Base.metadata.tables[table].c:
        default = column.default
        if column.name in head or column.name in tail or default is None:
            continue
        if getattr(default, "is_callable", False):
            found.append((column.name, default.arg))  # type: ignore[attr-defined]
        elif getattr(default, "is_scalar", False):
            value = default.arg  # type: ignore[attr-defined]
            found.append((column.name, lambda _context, value=value: value))
    return tuple(found)


EXTRAS = {table: _extras(table) for table in _COLUMNS}
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    table: (head, (*tail, *(name for name, _ in EXTRAS[table])))
    for table, (head, tail) in _COLUMNS.items()
}

# The order the writer copies them in, so that every foreign key points backwards.
TABLE_ORDER = ("locations", "people", "person_addresses", "vulnerabilities", "cases",
               "case_shares", "case_participants", "stage_instances", "actions")

NULL = "\\N"


def copy_text(value: str) -> str:
    """Escape text for COPY's text format (backslash, tab, newline, carriage return)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                 .replace("\r", "\\r"))
    return value


json_text = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _json(value: Any) -> str:
    return copy_text(json_text(value))


def _null(value: Any) -> str:
    return NULL


_COPY: dict[type, Callable[[Any], str]] = {
    type(None): _null, str: copy_text, int: str, bool: lambda v: "t" if v else "f",
    datetime: datetime.isoformat, date: date.isoformat, dict: _json, list: _json,
    float: repr,
}


def _copy_other(value: Any) -> str:
    if isinstance(value, str):  # str enums
        return copy_text(str(value))
    raise TypeError(f"cannot COPY a {type(value).__name__}")


def copy_tail(values: Sequence[Any]) -> str:
    get = _COPY.get
    return "\t".join([get(type(v), _copy_other)(v) for v in values])


def tuple_tail(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(values)


def tail_maker(dialect: str) -> Callable[[Sequence[Any]], Any]:
    return copy_tail if dialect == "postgresql" else tuple_tail


def table_tails(dialect: str) -> dict[str, Callable[[Sequence[Any]], Any]]:
    """For each table, a function from its tail values to what travels to the writer, with
    the model's Python-side defaults filled in."""
    make = tail_maker(dialect)
    makers = {}
    for table, extras in EXTRAS.items():
        if not extras:
            makers[table] = make
            continue
        names = _COLUMNS[table][1]
        defaults = [default for _, default in extras]

        def complete(values: Sequence[Any], names: tuple[str, ...] = names,
                     defaults: list[Any] = defaults) -> Any:
            context = _Parameters(dict(zip(names, values, strict=True)))
            return make((*values, *(default(context) for default in defaults)))

        makers[table] = complete
    return makers
