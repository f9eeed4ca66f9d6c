"""The checks that make a definition safe to run: every name resolves, every stage can be
reached and can reach "closed", and at each fork exactly one way is taken."""

from __future__ import annotations

import ast
import itertools
from collections import deque
from collections.abc import Iterator, Mapping
from itertools import combinations

from casebridge.yamlsource import Path_, Problem, SourceDocument
from forms.model import Field, FieldType, FormDefinition
from rules.calendars import REGIONS
from rules.expressions import (
    Expression,
    ExpressionError,
    dotted_name,
    overlap,
    parse,
    simple_constraint,
)
from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from workflows.letters import letter_templates
from workflows.model import (
    CLOSED,
    AnchorKind,
    Definition,
    Duration,
    DurationUnit,
    EffectKind,
    EffectSpec,
    Stage,
    Worker,
    WorkerKind,
)

ROLES = {r.value for r in Role}
AGENCY_TYPES = {t.value for t in AgencyType}
DATE_TYPES = (FieldType.DATE, FieldType.DATETIME)


def validate_definition(
    definition: Definition, document: SourceDocument, forms: Mapping[str, FormDefinition]
) -> list[Problem]:
    checker = _Checker(definition, document, forms)
    checker.run()
    return checker.problems


class _Checker:
    def __init__(
        self, d: Definition, document: SourceDocument, forms: Mapping[str, FormDefinition]
    ) -> None:
        self.d, self.doc, self.forms = d, document, forms
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def run(self) -> None:
        d = self.d
        if d.calendar_region not in REGIONS:
            self.add(("calendar",), f"unknown calendar '{d.calendar_region}'; use one of "
                     + ", ".join(sorted(REGIONS)))
        for i, role in enumerate(d.opened_by_roles):
            if role not in ROLES:
                self.add(("opened_by", "roles", i), self._unknown_role(role))
        for i, kind in enumerate(d.opened_by_agency_types):
            if kind not in AGENCY_TYPES:
                self.add(("opened_by", "agency_types", i), self._unknown_agency_type(kind))
        for key in d.start:
            if key not in d.stages:
                self.add(("start",), self._unknown_stage(key))
            elif d.stages[key].recurring:
                self.add(("start",), f"'{key}' recurs on a schedule and cannot be a start stage")
        if CLOSED in d.stages:
            self.add(("stages", CLOSED), "'closed' is reserved for the end of a case")
        for stage in d.stages.values():
            self._stage(stage)
        if not self.problems:
            self._reachability()

    # --- one stage ---------------------------------------------------------------------

    def _stage(self, stage: Stage) -> None:
        base: Path_ = ("stages", stage.key)
        d = self.d
        form = self.forms.get(stage.form) if stage.form else None
        if stage.form and form is None:
            known = ", ".join(sorted(self.forms)) or "none"
            self.add((*base, "form"), f"unknown form '{stage.form}' (forms: {known})")
        self._worker((*base, "worked_by"), stage.worked_by)
        if stage.deadline:
            self._deadline(stage, base)
        for where in ("on_enter", "on_exit"):
            for i, effect in enumerate(getattr(stage, where)):
                self._effect((*base, where, i), stage, effect)
        for key in stage.join:
            if key not in d.stages:
                self.add((*base, "join"), self._unknown_stage(key))
            elif not any(stage.key in t.to for t in d.stages[key].transitions):
                self.add((*base, "join"), f"'{key}' never moves to '{stage.key}', so the join "
                         "would wait for ever")
        if stage.recurring:
            for key in stage.recurring.while_in:
                if key not in d.stages:
                    self.add((*base, "recurring", "while_in"), self._unknown_stage(key))
            if stage.join:
                self.add((*base, "join"), "a recurring stage opens on its schedule, not by a join")
        if stage.completes_when_actions_settled and not any(
            e.kind is EffectKind.CREATE_ACTION for e in stage.on_enter
        ):
            self.add((*base, "completes_when"),
                     "the stage creates no actions on entry, so it would never complete")
        self._transitions(stage, base, form)

    def _worker(self, path: Path_, worker: Worker) -> None:
        if worker.role and worker.role not in ROLES:
            self.add(path, self._unknown_role(worker.role))
        if worker.kind is WorkerKind.AGENCY_TYPE and worker.agency_type not in AGENCY_TYPES:
            self.add(path, self._unknown_agency_type(str(worker.agency_type)))

    def _deadline(self, stage: Stage, base: Path_) -> None:
        deadline = stage.deadline
        assert deadline is not None
        path = (*base, "deadline")
        anchor = deadline.anchor
        if anchor.kind in (AnchorKind.STAGE_COMPLETED, AnchorKind.ANSWER):
            if anchor.stage not in self.d.stages:
                self.add((*path, "from"), self._unknown_stage(str(anchor.stage)))
            elif anchor.kind is AnchorKind.ANSWER:
                other = self.d.stages[anchor.stage]
                form = self.forms.get(other.form or "")
                field = form.field(str(anchor.field)) if form else None
                if field is None:
                    self.add((*path, "from"),
                             f"stage '{anchor.stage}' has no form field '{anchor.field}'")
                elif field.type not in DATE_TYPES:
                    self.add((*path, "from"), f"'{anchor.stage}.{anchor.field}' is a "
                             f"{field.type.value} field, not a date")
        allowances = [d for d in (deadline.within, *deadline.by_risk.values()) if d]
        for allowance in allowances:
            if allowance.amount == 0 and anchor.kind is AnchorKind.STAGE_ENTRY:
                self.add((*path, "within"), "a deadline of 0 from entering the stage is "
                         "already missed when the stage opens")
        if deadline.warn_before and allowances:
            shortest = min(allowances, key=_rough_hours)
            if _rough_hours(deadline.warn_before) >= _rough_hours(shortest):
                self.add((*path, "warn_before"),
                         f"the warning ({deadline.warn_before}) is not shorter than the "
                         f"deadline ({shortest})")

    def _effect(self, path: Path_, stage: Stage, effect: EffectSpec) -> None:
        if effect.to:
            self._worker((*path, "to"), effect.to)
        if effect.kind is EffectKind.REFER and effect.service not in AGENCY_TYPES:
            self.add((*path, "service"), self._unknown_agency_type(str(effect.service)))
        if effect.kind is EffectKind.LETTER and effect.template not in letter_templates():
            self.add((*path, "template"),
                     f"there is no letter '{effect.template}': use one of "
                     + ", ".join(sorted(letter_templates())))
        if effect.when:
            self._guard((*path, "when"), stage, effect.when)
        if effect.kind is EffectKind.SET_RISK:
            self._guard((*path,), stage, f"{effect.risk_from} == 'high'", label="set_risk")

    def _transitions(self, stage: Stage, base: Path_, form: FormDefinition | None) -> None:
        d = self.d
        transitions = stage.transitions
        if not transitions and not stage.recurring:
            self.add((*base, "transitions"), "the stage has no way out: add a transition "
                     "(to another stage or to closed)")
        for i, transition in enumerate(transitions):
            for key in transition.to:
                if key != CLOSED and key not in d.stages:
                    self.add((*base, "transitions", i, "to"), self._unknown_stage(key))
                elif key != CLOSED and d.stages[key].recurring:
                    self.add((*base, "transitions", i, "to"),
                             f"'{key}' recurs on its schedule; a transition cannot open it")
            if CLOSED in transition.to and len(transition.to) > 1:
                self.add((*base, "transitions", i, "to"),
                         "closing the case cannot be one of several parallel branches")
            if transition.when:
                self._guard((*base, "transitions", i, "when"), stage, transition.when)
        guarded = [t for t in transitions if t.when]
        defaults = [i for i, t in enumerate(transitions) if t.otherwise]
        unconditional = [i for i, t in enumerate(transitions) if not t.when and not t.otherwise]
        if len(defaults) > 1:
            self.add((*base, "transitions", defaults[1], "otherwise"),
                     "only one transition can be the 'otherwise' way")
        if unconditional and (len(transitions) > 1):
            self.add((*base, "transitions", unconditional[0]),
                     "with several transitions, each needs 'when: ...' or 'otherwise: true'")
        if guarded and not defaults and not _exhaustive(guarded, form):
            self.add((*base, "transitions"),
                     "no transition is taken when none of the conditions hold: add one with "
                     "'otherwise: true'")
        for (i, a), (j, b) in combinations(list(enumerate(transitions)), 2):
            if not (a.when and b.when):
                continue
            if _can_both_hold(a.when, b.when, form):
                self.add((*base, "transitions", j, "when"),
                         f"this condition and transition {i + 1}'s ('{a.when}') can both be "
                         "true: make them exclusive")

    def _guard(self, path: Path_, stage: Stage, text: str, label: str | None = None) -> None:
        try:
            expression = parse(text)
        except ExpressionError as exc:
            self.add(path, str(exc))
            return
        form = self.forms.get(stage.form or "")
        for name in _compared_as_single_values(expression):
            field = _answer_field(name, form)
            if field is not None and field.type is FieldType.MULTIPLE_CHOICE:
                self.add(path, f"'{name}' is a multiple-choice answer (a list of choices): "
                         f"test it with in, e.g. {name} in ['{field.choice_values[0]}']")
        for name in sorted(expression.names):
            problem = self._name_problem(name, stage, form)
            if problem:
                self.add(path, problem)

    def _name_problem(self, name: str, stage: Stage, form: FormDefinition | None) -> str | None:
        """Guards read: answers.<field>, scores.<score>.value|band, risk, attempt (which visit
        of this stage), facts.<fact>, stages.<stage>.<field>, actions.done|declined."""
        parts = name.split(".")
        head = parts[0]
        if name in ("true", "false", "null", "True", "False", "None", "risk", "attempt"):
            return None
        if head == "answers" and len(parts) == 2:
            if form is None:
                return f"'{name}': the stage '{stage.key}' has no form to answer"
            if parts[1] not in form.field_keys:
                return (f"unknown field '{parts[1]}' in '{name}' (the form '{form.key}' has: "
                        + ", ".join(sorted(form.field_keys)) + ")")
            return None
        if head == "scores" and len(parts) == 3 and parts[2] in ("value", "band"):
            if form is None or parts[1] not in {s.key for s in form.scores}:
                return f"'{name}': the stage's form has no score '{parts[1]}'"
            return None
        if head == "facts" and len(parts) == 2:
            if parts[1] not in self.d.facts:
                return (f"'{name}' is not a fact this case type declares under 'facts' "
                        f"({', '.join(sorted(self.d.facts)) or 'none declared'})")
            return None
        if head == "stages" and len(parts) == 3:
            other = self.d.stages.get(parts[1])
            other_form = self.forms.get(other.form or "") if other else None
            if other_form is None or parts[2] not in other_form.field_keys:
                return f"'{name}': stage '{parts[1]}' has no form field '{parts[2]}'"
            return None
        if head == "actions" and len(parts) == 2 and parts[1] in ("done", "declined"):
            if not stage.completes_when_actions_settled:
                return f"'{name}' can only be read by a stage that completes when its actions do"
            return None
        return (f"'{name}' is not something a condition can read: use answers.<field>, "
                "scores.<score>.value or .band, risk, attempt, facts.<fact> or "
                "stages.<stage>.<field>")

    # --- the graph ---------------------------------------------------------------------

    def _reachability(self) -> None:
        d = self.d
        reached = _reachable(d)
        for key in d.stages:
            if key not in reached:
                self.add(("stages", key), f"the stage '{key}' can never be reached from the "
                         f"start ({', '.join(d.start)})")
        closable = _can_close(d)
        for key, stage in d.stages.items():
            if stage.recurring or key not in reached:
                continue
            if key not in closable:
                self.add(("stages", key), f"from '{key}' there is no way to close the case")

    def _unknown_stage(self, key: str) -> str:
        return f"unknown stage '{key}' (stages: {', '.join(self.d.stages)})"

    @staticmethod
    def _unknown_role(role: str) -> str:
        return f"unknown role '{role}' (roles: {', '.join(sorted(ROLES))})"

    @staticmethod
    def _unknown_agency_type(kind: str) -> str:
        return f"unknown agency type '{kind}' (types: {', '.join(sorted(AGENCY_TYPES))})"


def successors(d: Definition, key: str) -> Iterator[str]:
    for transition in d.stages[key].transitions:
        yield from transition.to


def _reachable(d: Definition) -> set[str]:
    seen: set[str] = set()
    queue = deque(k for k in d.start if k in d.stages)
    while queue:
        key = queue.popleft()
        if key in seen or key == CLOSED:
            continue
        seen.add(key)
        queue.extend(k for k in successors(d, key) if k not in seen)
    for stage in d.recurring_stages:
        if stage.recurring and any(k in seen for k in stage.recurring.while_in):
            seen.add(stage.key)
    return seen


def _can_close(d: Definition) -> set[str]:
    """Stages from which some path of transitions reaches 'closed' (a fixed point)."""
    good: set[str] = set()
    changed = True
    while changed:
        changed = False
        for key in d.stages:
            if key in good:
                continue
            for transition in d.stages[key].transitions:
                # A fork reaches closed if every branch can (each must finish for the join).
                if all(t == CLOSED or t in good for t in transition.to):
                    good.add(key)
                    changed = True
                    break
    return good


def _can_both_hold(a: str, b: str, form: FormDefinition | None) -> bool:
    if a.strip() == b.strip():
        return True
    try:
        ca, cb = simple_constraint(parse(a)), simple_constraint(parse(b))
    except ExpressionError:
        return False
    if ca is None or cb is None:
        return False  # richer guards are checked when they run (exactly one must hold)
    field = _answer_field(ca.name, form)
    if ca.name == cb.name and field is not None and field.type is FieldType.MULTIPLE_CHOICE:
        return True  # several choices can be ticked at once: both tests can hold
    return bool(overlap(ca, cb))


def _answer_field(name: str, form: FormDefinition | None) -> Field | None:
    head, _, rest = name.partition(".")
    return form.field(rest) if head == "answers" and form is not None else None


def _compared_as_single_values(expression: Expression) -> list[str]:
    """Names compared with ==, != or an ordering (not `in`): wrong for list answers."""
    found = []
    for node in ast.walk(expression.tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, (left, right) in zip(node.ops, itertools.pairwise(operands), strict=True):
                if isinstance(op, ast.In | ast.NotIn):
                    continue
                found.extend(n for n in (dotted_name(left), dotted_name(right)) if n)
    return found


def _exhaustive(guarded: list, form: FormDefinition | None) -> bool:
    """Guards like answers.x == 'a' / answers.x == 'b' covering every choice of a required
    choice field need no 'otherwise'."""
    if form is None:
        return False
    covered: set[object] = set()
    name = None
    for transition in guarded:
        try:
            constraint = simple_constraint(parse(transition.when))
        except ExpressionError:
            return False
        if constraint is None or constraint.values is None:
            return False
        if name not in (None, constraint.name):
            return False
        name = constraint.name
        covered |= constraint.values
    if name is None or not name.startswith("answers."):
        return False
    field = form.field(name.split(".", 1)[1])
    return bool(
        field and field.required and not field.show_when  # a hidden question is unanswered
        and field.type is not FieldType.MULTIPLE_CHOICE and field.choice_values
        and set(field.choice_values) <= covered
    )


def _rough_hours(duration: Duration) -> float:
    if duration.unit is DurationUnit.WORKING_HOURS:
        return duration.amount
    if duration.unit is DurationUnit.WORKING_DAYS:
        return duration.amount * 8
    return duration.amount * 24 * 5 / 7 * 8 / 24
