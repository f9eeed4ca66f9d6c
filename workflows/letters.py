"""The letters Casebridge can write to the people on a case, as a workflow names them.

Each letter is a pair of Jinja2 text templates in `engine/templates/letters/`:
`<name>.title.txt` (the heading) and `<name>.txt` (the body). The engine renders them to PDF
(`workflows/engine/letters.py`); the validator checks that a definition names one that exists.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

LETTERS_DIR = Path(__file__).parent / "engine" / "templates" / "letters"

# Whom a letter may be written to: the people a case is about, who should hear how it went.
LETTER_RECIPIENTS = ("victim", "complainant", "applicant")


@cache
def letter_templates() -> frozenset[str]:
    return frozenset(path.name.removesuffix(".txt") for path in LETTERS_DIR.glob("*.txt")
                     if not path.name.endswith(".title.txt"))
