"""Reading case-type definitions: YAML -> marshmallow -> model -> semantic checks.

Every problem in a file is reported at once, each with file, line and path, so a manager
editing a definition sees the whole list rather than fixing one error per attempt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from casebridge.canonical import canonical_json
from casebridge.yamlsource import (
    DocumentError,
    Problem,
    SourceDocument,
    load_yaml,
    load_yaml_file,
    marshmallow_problems,
)
from forms.loader import shipped_forms
from forms.model import FormDefinition
from workflows.model import Definition, Stage
from workflows.schema import DefinitionSchema
from workflows.validation import validate_definition

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


def content_hash(data: Any) -> str:
    """SHA-256 of the definition's meaning (canonical JSON), so re-formatting or editing a
    comment does not make a new version but any real change does."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def build_definition(
    document: SourceDocument, forms: Mapping[str, FormDefinition] | None = None
) -> Definition:
    forms = shipped_forms() if forms is None else forms
    if not isinstance(document.data, dict):
        raise DocumentError([document.problem((), "a case type is a mapping of keys")])
    try:
        data = DefinitionSchema().load(document.data)
    except ValidationError as exc:
        raise DocumentError(marshmallow_problems(document, exc.messages)) from None
    stages = {
        key: Stage(
            key=key,
            name=raw["name"],
            form=raw["form"],
            worked_by=raw["worked_by"],
            deadline=raw["deadline"],
            description=raw["description"],
            business_status=raw["business_status"],
            pausable=raw["pausable"],
            on_enter=tuple(raw["on_enter"]),
            on_exit=tuple(raw["on_exit"]),
            transitions=tuple(raw["transitions"]),
            join=tuple(raw["join"]),
            recurring=raw["recurring"],
            max_instances=raw["max_instances"],
            completes_when_actions_settled=raw["completes_when"] == "actions_settled",
        )
        for key, raw in data["stages"].items()
    }
    definition = Definition(
        key=data["key"],
        name=data["name"],
        version=data["version"],
        reference_prefix=data["reference_prefix"],
        start=tuple(data["start"]),
        stages=stages,
        description=data["description"],
        opened_by_roles=tuple(data["opened_by"]["roles"]),
        opened_by_agency_types=tuple(data["opened_by"]["agency_types"]),
        calendar_region=data["calendar"],
        facts=data["facts"],
        content_hash=content_hash(document.data),
        source=document.source,
        raw=document.data,
    )
    problems = validate_definition(definition, document, forms)
    if problems:
        raise DocumentError(problems)
    return definition


def load_definition_text(
    text: str, source: str, forms: Mapping[str, FormDefinition] | None = None
) -> Definition:
    return build_definition(load_yaml(text, source), forms)


def load_definition_file(
    path: Path, forms: Mapping[str, FormDefinition] | None = None
) -> Definition:
    return build_definition(load_yaml_file(path), forms)


@lru_cache(maxsize=4)
def shipped_definitions(directory: Path = DEFINITIONS_DIR) -> dict[tuple[str, int], Definition]:
    """Every shipped definition by (key, version); old versions stay beside new ones."""
    found: dict[tuple[str, int], Definition] = {}
    problems: list[Problem] = []
    for path in sorted(directory.rglob("*.yaml")):
        try:
            definition = load_definition_file(path)
        except DocumentError as exc:
            problems.extend(exc.problems)
            continue
        ident = (definition.key, definition.version)
        if ident in found:
            problems.append(Problem(str(path), None, "version",
                                    f"{definition.key} version {definition.version} is defined "
                                    f"twice (also in {found[ident].source})"))
        found[ident] = definition
    if problems:
        raise DocumentError(problems)
    return found


def latest_shipped() -> dict[str, Definition]:
    latest: dict[str, Definition] = {}
    for (key, _version), definition in sorted(shipped_definitions().items()):
        latest[key] = definition
    return latest
