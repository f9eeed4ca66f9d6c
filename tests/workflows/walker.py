"""Drives a definition with random but valid events, checking invariants after each one.

Shared by the hypothesis tests (which hand in their own Random so failures shrink) and by
anything else that wants to exercise every path of a case type.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from forms.loader import shipped_forms
from forms.sampling import sample_answers
from workflows import interpreter as wf
from workflows.model import RISK_LEVELS, Definition

START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@dataclass
class Walk:
    definition: Definition
    state: wf.CaseState
    now: datetime
    log: list[str] = field(default_factory=list)


def check_invariants(d: Definition, state: wf.CaseState) -> None:
    keys = [(r.key, r.sequence) for r in state.stages]
    assert len(keys) == len(set(keys)), "a stage instance appears twice"
    assert state.status in (wf.OPEN, wf.PAUSED, wf.CLOSED)
    assert state.risk is None or state.risk in RISK_LEVELS
    for run in state.stages:
        assert run.key in d.stages, f"unknown stage {run.key}"
        assert run.status in (wf.ACTIVE, wf.COMPLETED, wf.CANCELLED)
        if run.due_at is not None:
            assert run.due_at >= run.opened_at, f"{run.key} is due before it opened"
        if run.warn_at is not None:
            assert run.due_at is not None
            assert run.opened_at <= run.warn_at <= run.due_at
        if run.status == wf.COMPLETED:
            assert run.completed_at is not None
            assert run.answers is not None
    active = state.active()
    if state.status == wf.CLOSED:
        assert not active, "a closed case still has open stages"
        assert state.closed_at is not None
        assert state.close_reason
        assert not state.next_reviews
    else:
        main = [r for r in active if d.stages[r.key].recurring is None]
        assert main or state.arrivals, "an open case has no stage to work (stuck)"
        for key in state.next_reviews:
            recurrence = d.stages[key].recurring
            assert recurrence is not None
            assert {r.key for r in active} & set(recurrence.while_in)
    if state.status == wf.PAUSED:
        for run in active:
            if d.stages[run.key].pausable and f"{run.key}:{run.sequence}" in state.paused:
                assert run.due_at is None


def random_walk(d: Definition, rng: random.Random, *, steps: int) -> Walk:
    interpreter = wf.Interpreter(d, shipped_forms())
    forms = shipped_forms()
    risk = rng.choice([None, *RISK_LEVELS])
    outcome = interpreter.start(wf.OpenCase(at=START, risk=risk))
    walk = Walk(d, outcome.state, START)
    check_invariants(d, walk.state)
    for _ in range(steps):
        walk.now += timedelta(hours=rng.choice((1, 3, 8, 30, 100, 400)))
        event = _next_event(walk, rng, forms)
        if event is None:
            break
        walk.log.append(repr(event))
        walk.state = interpreter.handle(walk.state, event).state
        check_invariants(d, walk.state)
    return walk


def _next_event(walk: Walk, rng: random.Random, forms) -> wf.Event | None:
    d, state, now = walk.definition, walk.state, walk.now
    if state.status == wf.CLOSED:
        if rng.random() < 0.15:
            return wf.Reopen(at=now, reason="New incident reported")
        return None
    if state.status == wf.PAUSED:
        return wf.Resume(at=now)
    roll = rng.random()
    active = state.active()
    if roll < 0.04:
        return wf.Close(at=now, reason="Closed by a manager")
    if roll < 0.08:
        return wf.Pause(at=now, reason="Waiting for the victim")
    if roll < 0.11:
        targets = [k for k, s in d.stages.items() if not s.recurring and (
            s.max_instances is None or len(state.episode_runs(k)) < s.max_instances)]
        return wf.Override(at=now, reason="Moved at the panel", to=(rng.choice(targets),),
                           by_manager=True)
    if roll < 0.18 and state.next_reviews:
        key, due = rng.choice(sorted(state.next_reviews.items()))
        return wf.ReviewDue(at=max(now, due), stage=key)
    if roll < 0.24 and active:
        run = rng.choice(active)
        return wf.DeadlineReached(at=now, stage=run.key, sequence=run.sequence,
                                  kind=rng.choice(("warning", "due")))
    if not active:
        return None
    run = rng.choice(active)
    stage = d.stages[run.key]
    if stage.completes_when_actions_settled:
        done = rng.randint(0, 3)
        return wf.ActionsSettled(at=now, stage=run.key, sequence=run.sequence, done=done,
                                 declined=rng.randint(0, 1), outstanding=0)
    form = forms.get(stage.form or "")
    answers = sample_answers(form, rng, today=now.date()) if form else {}
    facts = {name: rng.choice([True, False]) for name in d.facts}
    return wf.SubmitStage(at=now, stage=run.key, sequence=run.sequence, answers=answers,
                          facts=facts)
