"""Diagrams of case types: Mermaid text, SVG validity and accessibility, layout geometry.

Definitions are built in Python (not loaded from YAML) so these tests only depend on the model.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.diagram import (
    CLOSED_NODE,
    START_NODE,
    Box,
    describe_recurrence,
    layout,
    links,
    to_mermaid,
    to_svg,
)
from workflows.model import (
    Deadline,
    Definition,
    Duration,
    DurationUnit,
    Recurrence,
    Stage,
    Transition,
    Worker,
    WorkerKind,
)

SVG = "{http://www.w3.org/2000/svg}"
LEAD = Worker(WorkerKind.LEAD)
DAYS = Duration(2, DurationUnit.WORKING_DAYS)


def stage(key: str, name: str, *transitions: Transition, **kwargs) -> Stage:
    kwargs.setdefault("deadline", Deadline(within=DAYS))
    kwargs.setdefault("worked_by", LEAD)
    kwargs.setdefault("transitions", transitions)
    return Stage(key=key, name=name, form=None, **kwargs)


def go(*to: str, when: str | None = None, otherwise: bool = False, label: str | None = None):
    return Transition(to=to, when=when, otherwise=otherwise, label=label)


def definition(*stages: Stage, start: tuple[str, ...] | None = None) -> Definition:
    return Definition(key="test", name="Test case type", version=3, reference_prefix="TST",
                      start=start or (stages[0].key,), stages={s.key: s for s in stages})


def linear() -> Definition:
    return definition(
        stage("triage", "Triage", go("assess")),
        stage("assess", "Assess risk", go("closed")),
    )


def fork_join() -> Definition:
    return definition(
        stage("intake", "Intake", go("police", "housing", label="refer to both")),
        stage("police", "Police enquiries", go("panel")),
        stage("housing", "Housing visit", go("panel")),
        stage("panel", "Panel decision", go("closed"), join=("police", "housing")),
    )


def loop_back() -> Definition:
    return definition(
        stage("plan", "Action plan", go("review")),
        stage("review", "Review the plan", go("plan", when="actions_outstanding", label="reopen"),
              go("review", when="needs_more_time"), go("closed", otherwise=True)),
    )


def recurring() -> Definition:
    every = Recurrence(every=None, while_in=("investigate", "monitor"), by_risk={
        "high": Duration(14, DurationUnit.CALENDAR_DAYS),
        "medium": Duration(28, DurationUnit.CALENDAR_DAYS)})
    return definition(
        stage("investigate", "Investigate", go("monitor")),
        stage("monitor", "Monitor", go("closed")),
        stage("case_review", "Case review", recurring=every, deadline=None),
    )


def tricky() -> Definition:
    return definition(
        stage("odd", "A <b>&", go("next", when='answers.x == "yes" and score < 3 & 1')),
        stage("next", 'Say "hello" | #1', go("closed", otherwise=True)),
    )


def complex_case() -> Definition:
    """Everything at once: by-risk deadline, fork, join, back edge, self-loop, long names,
    a long edge skipping layers, a recurring review and several ways to close."""
    contact = Deadline(by_risk={"high": Duration(1, DurationUnit.WORKING_DAYS),
                                "medium": Duration(3, DurationUnit.WORKING_DAYS)}, within=DAYS)
    review = Recurrence(every=Duration(56, DurationUnit.CALENDAR_DAYS),
                        by_risk={"high": Duration(14, DurationUnit.CALENDAR_DAYS),
                                 "medium": Duration(28, DurationUnit.CALENDAR_DAYS)},
                        while_in=("investigate", "action_plan"))
    agency = Worker(WorkerKind.AGENCY_TYPE, role="case_worker", agency_type="victim_services")
    return Definition(
        key="asb", name="Anti-social behaviour", version=7, reference_prefix="ASB",
        start=("report",), stages={s.key: s for s in (
            stage("report", "Report received", go("victim_contact", "investigate"),
                  worked_by=Worker(WorkerKind.OWNER)),
            stage("victim_contact", "Victim contact and risk assessment", deadline=contact,
                  worked_by=agency, transitions=(
                      go("action_plan", when='scores.risk.band == "high"'),
                      go("closed", when="answers.declined_support"),
                      go("action_plan", otherwise=True))),
            stage("investigate", "Investigate", go("action_plan"),
                  worked_by=Worker(WorkerKind.ROLE, role="asb_officer")),
            stage("action_plan", "Agree an action plan with the victim and partners",
                  join=("victim_contact", "investigate"), transitions=(
                      go("closed", when="answers.resolved"),
                      go("action_plan", when="answers.revise"),
                      go("investigate", when="answers.new_incident", label="reopen"),
                      go("closure", otherwise=True))),
            stage("closure", "Closure letter", go("closed")),
            stage("case_review", "Multi-agency case review", recurring=review, deadline=None),
        )})


def mermaid_escaped(text: str) -> str:
    for raw, entity in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"),
                        ("&", "#amp;"), ("|", "#124;")):
        text = text.replace(raw, entity)
    return text


ALL = [linear, fork_join, loop_back, recurring, tricky, complex_case]


@pytest.mark.parametrize("make", ALL)
def test_mermaid_has_every_stage_and_edge(make) -> None:
    defn = make()
    text = to_mermaid(defn)
    assert text.startswith("flowchart TD\n")
    for key in defn.stages:
        assert f"st_{key}[" in text
    for link in links(defn):
        if link.label:
            assert f'|"{mermaid_escaped(link.label)}"|' in text
    assert 'closed(["Closed"])' in text
    assert "classDef changed" in text
    assert "classDef recurring" in text


def test_mermaid_deadline_and_labels() -> None:
    text = to_mermaid(loop_back())
    assert 'st_plan["Action plan<br/>2 working days"]' in text
    assert 'st_review -->|"actions_outstanding"| st_plan' in text
    assert 'st_review -->|"otherwise"| closed' in text
    assert "start --> st_plan" in text


def test_mermaid_fork_draws_an_edge_to_each_branch_and_uses_label() -> None:
    text = to_mermaid(fork_join())
    assert 'st_intake -->|"refer to both"| st_police' in text
    assert 'st_intake -->|"refer to both"| st_housing' in text
    assert "st_police --> st_panel" in text
    assert "st_housing --> st_panel" in text


def test_mermaid_recurring_is_dotted_from_each_while_in_stage() -> None:
    text = to_mermaid(recurring())
    label = "every 14 calendar days (high) / 28 (medium)"
    assert f'st_investigate -.->|"{label}"| st_case_review' in text
    assert f'st_monitor -.->|"{label}"| st_case_review' in text
    assert "class st_case_review recurring" in text


def test_mermaid_highlight_and_escaping() -> None:
    text = to_mermaid(tricky(), highlight=frozenset({"next"}))
    assert "class st_next changed" in text
    assert 'st_odd["A #lt;b#gt;#amp;' in text
    assert "answers.x == #quot;yes#quot; and score #lt; 3 #amp; 1" in text
    assert 'Say #quot;hello#quot; #124; #35;1' in text
    body = "\n".join(line for line in text.splitlines() if "%%" not in line)
    assert "<b>" not in body
    assert '"yes"' not in body


def test_recurrence_text() -> None:
    rec = Recurrence(every=Duration(56, DurationUnit.CALENDAR_DAYS), while_in=("a",),
                     by_risk={"high": Duration(14, DurationUnit.CALENDAR_DAYS)})
    assert describe_recurrence(rec) == "every 14 calendar days (high) / otherwise 56 calendar days"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


@pytest.mark.parametrize("make", ALL)
def test_svg_is_valid_accessible_and_has_a_group_per_stage(make) -> None:
    defn = make()
    root = parse(to_svg(defn))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "title desc"
    assert root.find(f"{SVG}title").text == f"{defn.name} (version {defn.version})"
    desc = root.find(f"{SVG}desc").text
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g")}
    for key, s in defn.stages.items():
        assert s.name in desc
        group = groups[f"stage-{key}"]
        assert "stage" in group.get("class").split()
        assert len(group.findall(f"{SVG}rect")) == 1
    assert "closed" in groups
    assert len(root.findall(f"{SVG}path")) == len(links(defn))


def test_svg_describes_transitions_for_screen_readers() -> None:
    desc = parse(to_svg(complex_case())).find(f"{SVG}desc").text
    assert "Anti-social behaviour, version 7" in desc
    assert "goes to Victim contact and risk assessment and Investigate in parallel" in desc
    assert "when answers.declined_support, the case closes" in desc
    assert "recurs every 14 calendar days (high) / 28 (medium) / otherwise 56 calendar days" in desc


def test_svg_highlight_and_recurring_classes() -> None:
    root = parse(to_svg(complex_case(), highlight=frozenset({"closure"})))
    groups = {g.get("id"): g.get("class", "").split() for g in root.iter(f"{SVG}g")}
    assert "changed" in groups["stage-closure"]
    assert "changed" not in groups["stage-report"]
    assert "recurring" in groups["stage-case_review"]
    dashed = [p for p in root.iter(f"{SVG}path") if "recurring" in p.get("class", "")]
    assert len(dashed) == 2
    assert all(p.get("stroke-dasharray") for p in dashed)
    assert 'stroke="#f47738"' in to_svg(complex_case(), highlight=frozenset({"closure"}))


def test_svg_escapes_manager_text() -> None:
    svg = to_svg(tricky())
    root = parse(svg)
    assert "A &lt;b&gt;&amp;" in svg
    assert not list(root.iter("b"))
    assert not list(root.iter(f"{SVG}b"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "A <b>&" in texts
    assert 'answers.x == "yes" and score <' in texts
    assert "3 & 1" in texts


def overlaps(a: Box, b: Box) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def boxes_of(lay) -> list[Box]:
    return [*lay.nodes.values(), *(e.label_box for e in lay.edges if e.label_box)]


@pytest.mark.parametrize("make", ALL)
def test_layout_boxes_and_labels_never_overlap_and_fit(make) -> None:
    lay = layout(make())
    for a, b in combinations(boxes_of(lay), 2):
        assert not overlaps(a, b), (a, b)
    for box in boxes_of(lay):
        assert box.x >= 0
        assert box.y >= 0
        assert box.right <= lay.width
        assert box.bottom <= lay.height


@pytest.mark.parametrize("make", ALL)
def test_layout_puts_forward_targets_below_and_back_edges_go_up(make) -> None:
    lay = layout(make())
    for edge in lay.edges:
        src, dst = lay.nodes[edge.source], lay.nodes[edge.target]
        if edge.back:
            assert dst.y <= src.y
        else:
            assert dst.y > src.bottom, edge
            assert edge.points[0][1] == src.bottom
            assert edge.points[-1][1] == dst.y


def test_loop_back_is_a_back_edge_and_self_loop_sits_right_of_its_box() -> None:
    lay = layout(loop_back())
    kinds = {(e.source, e.target): (e.kind, e.back) for e in lay.edges}
    assert kinds["review", "plan"] == ("transition", True)
    assert kinds["review", "review"] == ("loop", True)
    assert kinds[START_NODE, "plan"] == ("start", False)
    loop = next(e for e in lay.edges if e.kind == "loop")
    assert min(x for x, _ in loop.points) >= lay.nodes["review"].right


def test_layout_join_stage_is_below_both_branches() -> None:
    lay = layout(fork_join())
    n = lay.nodes
    assert n["police"].y == n["housing"].y
    assert n["panel"].y > n["police"].bottom
    assert n[CLOSED_NODE].y > n["panel"].bottom
    assert n["panel"].x < max(n["police"].right, n["housing"].right)


def test_long_stage_names_wrap() -> None:
    svg = to_svg(complex_case())
    assert ">Agree an action plan with<" in svg
    assert ">the victim and partners<" in svg


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 7), max_size=3), min_size=1, max_size=8))
def test_any_graph_lays_out_without_overlaps(targets) -> None:
    keys = [f"s{i}" for i in range(len(targets))]
    stages = [
        stage(key, f"Stage {key} " * (i % 3 + 1),
              *[go(keys[t] if t < len(keys) else "closed", when=f"guard {t}") for t in row])
        for i, (key, row) in enumerate(zip(keys, targets, strict=True))
    ]
    defn = definition(*stages)
    lay = layout(defn)
    for a, b in combinations(boxes_of(lay), 2):
        assert not overlaps(a, b), (a, b)
    parse(to_svg(defn, highlight=frozenset(keys[:1])))
