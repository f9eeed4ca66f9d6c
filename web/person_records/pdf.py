"""The subject access export as a readable PDF: the same content as the JSON, one heading
per section and one line per detail (fpdf2, standard fonts, as the letters are made)."""

from __future__ import annotations

from typing import Any

from workflows.engine.letters import _latin1 as latin1  # the standard fonts' Latin-1 only


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def render(held: dict[str, Any]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creator("Casebridge")
    pdf.set_title("Subject access request")
    pdf.set_margins(left=20, top=20, right=20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()

    def heading(text: str, size: int) -> None:
        pdf.set_font("Helvetica", style="B", size=size)
        pdf.multi_cell(0, size * 0.5, latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def line(text: str, indent: int = 0) -> None:
        pdf.set_font("Helvetica", size=10)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(0, 5, latin1(text), new_x="LMARGIN", new_y="NEXT")

    def details(values: dict[str, Any], indent: int = 0) -> None:
        for key, value in values.items():
            if isinstance(value, dict):
                line(f"{_label(key)}:", indent)
                details(value, indent + 5)
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                line(f"{_label(key)}:", indent)
                for item in value:
                    details(item, indent + 5)
                    pdf.ln(1)
            elif isinstance(value, list):
                line(f"{_label(key)}: {', '.join(map(str, value)) or '(none)'}", indent)
            else:
                line(f"{_label(key)}: {'(none)' if value in (None, '') else value}", indent)

    heading("Subject access request", 16)
    details(held["subject_access_request"])
    for section in ("person", "addresses", "vulnerabilities", "flags"):
        pdf.ln(3)
        heading(_label(section), 13)
        value = held[section]
        if isinstance(value, dict):
            details(value)
        elif not value:
            line("None held.")
        for item in value if isinstance(value, list) else []:
            details(item)
            pdf.ln(1)
    for case in held["cases"]:
        pdf.ln(3)
        heading(f"Case {case['reference']}", 13)
        details(case)
    if not held["cases"]:
        pdf.ln(3)
        heading("Cases", 13)
        line("None this agency may see.")
    return bytes(pdf.output())
