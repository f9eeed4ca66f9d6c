"""A case type in plain words, for `casebridge workflows show` and for managers reading it."""

from __future__ import annotations

from workflows.model import CLOSED, Definition, EffectKind, EffectSpec, Stage


def describe(definition: Definition) -> str:
    d = definition
    lines = [
        f"{d.name} ({d.key}) version {d.version}",
        f"  references: {d.reference_prefix}-YYYY-NNNNNN   content hash: {d.content_hash[:16]}",
        f"  calendar: {d.calendar_region}",
    ]
    if d.description:
        lines.append(f"  {d.description.strip()}")
    if d.opened_by_roles or d.opened_by_agency_types:
        lines.append("  opened by: " + "; ".join(filter(None, [
            ", ".join(d.opened_by_roles), ", ".join(d.opened_by_agency_types)])))
    if d.facts:
        lines.append("  facts the rules provide:")
        lines.extend(f"    {k}: {v}" for k, v in d.facts.items())
    lines.append(f"  starts at: {', '.join(d.stages[k].name for k in d.start)}")
    lines.append("")
    for stage in d.stages.values():
        lines.extend(_stage(stage, d))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _stage(stage: Stage, d: Definition) -> list[str]:
    head = f"[{stage.key}] {stage.name}"
    if stage.form:
        head += f"  (form: {stage.form})"
    lines = [head, f"  worked by {stage.worked_by.describe()}"]
    if stage.deadline:
        text = f"  deadline: {stage.deadline.describe()}"
        if stage.deadline.warn_before:
            text += f", warning {stage.deadline.warn_before} before"
        lines.append(text)
    if stage.pausable:
        lines.append("  the clock stops while the case is paused")
    if stage.recurring:
        r = stage.recurring
        parts = [f"{k}: every {v}" for k, v in r.by_risk.items()]
        if r.every:
            parts.append(f"otherwise every {r.every}")
        lines.append(f"  recurs ({'; '.join(parts)}) while in {', '.join(r.while_in)}")
    if stage.join:
        lines.append(f"  waits for all of: {', '.join(stage.join)}")
    if stage.max_instances:
        lines.append(f"  at most {stage.max_instances} time(s)")
    if stage.completes_when_actions_settled:
        lines.append("  completes when all its actions are done or declined")
    for label, effects in (("on entry", stage.on_enter), ("on completion", stage.on_exit)):
        for effect in effects:
            lines.append(f"  {label}: {_effect(effect)}")
    for t in stage.transitions:
        targets = " and ".join(
            "close the case" + (f" ({t.close_reason})" if t.close_reason else "")
            if k == CLOSED else d.stages[k].name for k in t.to
        )
        condition = f"if {t.when}" if t.when else "otherwise" if t.otherwise else "then"
        lines.append(f"  -> {targets}  [{condition}]")
    return lines


def _effect(e: EffectSpec) -> str:
    when = f" if {e.when}" if e.when else ""
    if e.kind is EffectKind.NOTIFY:
        return f"notify {e.to.describe() if e.to else '?'} ({e.template}){when}"
    if e.kind is EffectKind.CREATE_ACTION:
        return f"action for {e.to.describe() if e.to else '?'}: {e.title}, due in {e.due}{when}"
    if e.kind is EffectKind.REFER:
        return f"refer to {str(e.service).replace('_', ' ')}: {e.reason}{when}"
    if e.kind is EffectKind.LETTER:
        return f"letter to the {e.recipient}: {e.template}{when}"
    if e.kind is EffectKind.SET_STATUS:
        return f"status becomes '{e.status}'"
    return f"risk level set from {e.risk_from}"
