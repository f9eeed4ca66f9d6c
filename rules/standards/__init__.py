"""Minimum standards and escalation ladders, declared in YAML per partnership."""

from rules.standards.loader import (
    DEFAULT_FILE,
    build_standards,
    load_default,
    load_standards_file,
    load_standards_text,
)
from rules.standards.model import (
    Event,
    EventKind,
    Ladder,
    LadderLevel,
    Measures,
    Recipient,
    Standard,
    StandardsSet,
)

__all__ = [
    "DEFAULT_FILE",
    "Event",
    "EventKind",
    "Ladder",
    "LadderLevel",
    "Measures",
    "Recipient",
    "Standard",
    "StandardsSet",
    "build_standards",
    "load_default",
    "load_standards_file",
    "load_standards_text",
]
