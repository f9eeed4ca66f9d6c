"""YAML documents that remember where each value came from, so a definition error can say
"asb.yaml:42: stages.intake.deadline.within: ..." instead of just "invalid"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. Under YAML 1.1 a form's `yes:` key, or an answer
    `no`, would silently become a boolean (the "Norway problem")."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document, located as precisely as we can."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass
class SourceDocument:
    source: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of the value at `path`, or of its nearest parent that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def problem(self, path: Path_, message: str) -> Problem:
        return Problem(self.source, self.line_of(path), format_path(path), message)


class DocumentError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_path(text: str) -> Path_:
    """Inverse of format_path for marshmallow's error keys."""
    parts: list[str | int] = []
    for chunk in text.replace("]", "").split("."):
        head, *indexes = chunk.split("[")
        if head:
            parts.append(head)
        parts.extend(int(i) for i in indexes)
    return tuple(parts)


def load_yaml(text: str, source: str) -> SourceDocument:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise DocumentError([Problem(source, line, "", f"not valid YAML: {reason}")]) from None
    if root is None:
        raise DocumentError([Problem(source, 1, "", "the file is empty")])
    lines: dict[Path_, int] = {}
    _record_lines(root, (), lines)
    data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    return SourceDocument(source=source, data=data, lines=lines)


def load_yaml_file(path: Path) -> SourceDocument:
    return load_yaml(path.read_text(encoding="utf-8"), str(path))


def _record_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _record_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines)


def _has_key(document: SourceDocument, path: Path_, key: str) -> bool:
    """Whether the mapping at `path` in the document has an entry called `key`."""
    node: Any = document.data
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(node, dict) and key in node


def marshmallow_problems(
    document: SourceDocument, messages: Any, prefix: Path_ = ()
) -> list[Problem]:
    """Flatten marshmallow's nested error dict into located problems."""
    problems: list[Problem] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                problems.extend(marshmallow_problems(document, value, prefix))
                continue
            if key in ("value", "key") and not _has_key(document, prefix, key):
                # marshmallow's Dict fields nest "value"/"key" under each entry: not a path
                # (unless the document really has an entry of that name here).
                problems.extend(marshmallow_problems(document, value, prefix))
                continue
            part: str | int = int(key) if isinstance(key, int) or str(key).isdigit() else key
            problems.extend(marshmallow_problems(document, value, (*prefix, part)))
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, dict | list):
                problems.extend(marshmallow_problems(document, item, prefix))
            else:
                problems.append(document.problem(prefix, str(item).rstrip(".")))
    else:
        problems.append(document.problem(prefix, str(messages)))
    return problems
