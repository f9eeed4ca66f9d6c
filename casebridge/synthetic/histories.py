"""One synthetic case's whole history, worked out by the pure interpreter with no database.

For case number i the generator seeds random.Random(f"{seed}:{i}"), so a case is the same
whichever worker computes it and however the run is split into batches. It opens the case on
its published case type and then plays the partnership's part: each active stage is done at
a time drawn against its deadline (mostly in time, some late, in working hours), reviews come
round when they fall due, agencies answer their actions or leave them outstanding, a few
cases are paused while the victim is not ready, a few are closed by a manager, and the story
stops before `now`: for most cases at `now` itself (old cases are long closed, recent ones
mid-way), for one in ten at a random point before it (left alone, now overdue). Every step is
an interpreter event, so the rows that come out (stages with their deadlines and answers,
actions, sharing, the case's status, risk and workflow_state) are what the services would
have written had the case been worked through them; the audit trail and outbox are not
replayed (see writer.py and casebridge/demo.py).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from typing import Any

from casebridge.synthetic import names
from casebridge.synthetic.answers import CaseContext, FormSampler, compile_forms
from casebridge.synthetic.calendar import MemoCalendar, memo_calendar
from casebridge.synthetic.population import LONDON, KnownPerson, Population
from casebridge.synthetic.rows import EXTRAS, NULL, copy_text, json_text, table_tails
from casebridge.synthetic.speedups import precomputed
from forms.loader import shipped_forms
from workflows import interpreter as wf
from workflows.loader import load_definition_text, shipped_definitions
from workflows.model import AnchorKind, Definition, Worker, WorkerKind

# How often each case type comes up: ASB is most of a partnership's work.
CASE_TYPE_WEIGHTS = {"asb": 0.55, "hate_crime": 0.15, "restorative_justice": 0.1,
                     "marac": 0.1, "asb_case_review": 0.1}
# Which kind of agency usually owns each case type (among those allowed to).
OWNER_WEIGHTS: dict[str, dict[str, float]] = {
    "asb": {"council": 0.45, "police": 0.35, "housing": 0.2},
    "hate_crime": {"police": 0.6, "council": 0.15, "housing": 0.1, "victim_service": 0.15},
    "restorative_justice": {"victim_service": 0.4, "police": 0.2, "probation": 0.15,
                            "youth_offending": 0.15, "council": 0.05, "housing": 0.05},
    "marac": {"police": 0.45, "domestic_abuse_service": 0.25, "health": 0.08,
              "mental_health": 0.04, "council": 0.06, "housing": 0.05, "probation": 0.03,
              "victim_service": 0.02, "education": 0.02},
    "asb_case_review": {"council": 0.7, "police": 0.2, "housing": 0.08, "health": 0.02},
}
TITLES: dict[str, tuple[str, ...]] = {
    "asb": ("Noise from a neighbouring flat", "Youths gathering and intimidating residents",
            "Drug dealing from an address", "Threats made to a neighbour",
            "Dog fouling and abuse when challenged", "Vandalism to cars on the street",
            "Fly-tipping and abuse when challenged", "Loud parties every weekend",
            "Motorbikes ridden on the playing fields", "Harassment by a neighbour"),
    "hate_crime": ("Racist abuse in the street", "Graffiti and abuse aimed at a family",
                   "Harassment on a bus", "Abuse about a disability at the shops",
                   "Homophobic threats outside a pub", "Religious abuse online and at home"),
    "restorative_justice": ("Burglary: the person harmed asks to meet",
                            "Assault outside a takeaway", "Criminal damage to a shop",
                            "Theft from a neighbour", "Harassment between neighbours"),
    "marac": ("High-risk domestic abuse referral", "Repeat domestic abuse incident",
              "Domestic abuse: threats to kill", "Stalking by an ex-partner"),
    "asb_case_review": ("ASB Case Review application: noise",
                        "ASB Case Review application: harassment",
                        "ASB Case Review application: drug dealing nearby",
                        "ASB Case Review application: youths and damage"),
}
AD_HOC_ACTIONS = ("Visit the victim and review safety", "Send a warning letter",
                  "Check tenancy conditions", "Offer mediation", "Refer to victim support",
                  "Patrol the location at evenings", "Install a doorbell camera",
                  "Share CCTV with the neighbourhood team", "Speak to the landlord",
                  "Repair the communal door entry")
AD_HOC_AGENCY_TYPES = {"police": 0.35, "council": 0.2, "housing": 0.25, "victim_service": 0.15,
                       "youth_offending": 0.05}
DECLINE_REASONS = ("Not for this agency: passed to the lead", "No capacity this month",
                   "Already done under another case", "The victim declined the service")
PAUSE_REASONS = ("Waiting for the victim to be ready", "Victim in hospital",
                 "Victim asked for time to decide", "Waiting for the court date")
MANUAL_CLOSE_REASONS = ("Victim moved out of the area", "Duplicate of another case",
                        "Victim asked for the case to be closed")
LANGUAGES = ("Polish", "Urdu", "Romanian", "Arabic", "Punjabi", "Somali", "Portuguese",
             "Bengali", "Lithuanian", "Tigrinya")
VULNERABILITIES = ("disability", "long_term_illness", "mental_health", "learning_disability",
                   "age", "language_or_communication", "social_isolation", "substance_misuse",
                   "carer", "pregnancy")
# How often a case's victim is someone who has been a victim before.
REPEAT_VICTIM_RATE = {"asb_case_review": 0.8, "marac": 0.35, "hate_crime": 0.3}
_DONE, _DECLINED, _NEVER = "done", "declined", "never"
MAX_EVENTS = 90


@dataclass(frozen=True)
class WorldSpec:
    """Everything a worker process needs, picklable (definitions travel as their source)."""

    seed: int
    now: datetime
    dialect: str
    definitions: tuple[tuple[str, str, str], ...]  # (source text, source name, content hash)
    agencies: tuple[tuple[int, str], ...]  # (id, agency type), in id order
    users: tuple[tuple[int, int], ...]  # (user id, agency id)
    population: Population
    case_base: int  # case i gets id case_base + i + 1


@dataclass
class _TypeInfo:
    definition: Definition
    interpreter: wf.Interpreter
    samplers: dict[str, FormSampler]  # stage key -> its form, compiled
    answer_anchored: frozenset[str]  # stages due on a date given in an answer (a meeting)
    owners: tuple[int, ...]
    owner_cum: tuple[float, ...]
    victim_role: str
    perpetrator_role: str
    perpetrator_rate: float


class World:
    """A worker's view of the partnership, built once per process from a WorldSpec."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.seed = spec.seed
        self.now = spec.now.astimezone(UTC)
        self.tails = table_tails(spec.dialect)
        # Stage rows, the most numerous, are rendered directly when the table has no columns
        # beyond the ones named here.
        self.copy = spec.dialect == "postgresql" and not EXTRAS["stage_instances"]
        self.copy_simple = (spec.dialect == "postgresql" and not EXTRAS["case_shares"]
                            and not EXTRAS["case_participants"])
        self.population = spec.population
        self.case_base = spec.case_base
        self.agency_types = dict(spec.agencies)
        self.first_of_type: dict[str, int] = {}
        for agency_id, kind in spec.agencies:
            self.first_of_type.setdefault(kind, agency_id)
        self.partnership_types = frozenset(self.first_of_type)
        self.users_by_agency: dict[int, list[int]] = {}
        for user_id, agency_id in spec.users:
            self.users_by_agency.setdefault(agency_id, []).append(user_id)
        self.user_agency = dict(spec.users)
        forms = shipped_forms()
        compiled = compile_forms(forms)
        self.types: dict[str, _TypeInfo] = {}
        self.calendars: dict[str, MemoCalendar] = {}
        # The published text is usually a shipped file, already parsed (and cached) here.
        shipped = {d.content_hash: d for d in shipped_definitions().values()}
        for text, source, content_hash in spec.definitions:
            loaded = shipped.get(content_hash) or load_definition_text(text, source)
            definition = precomputed(loaded)
            calendar = self.calendars.setdefault(definition.calendar_region,
                                                 memo_calendar(definition.calendar_region))
            owners, weights = [], []
            preferred = OWNER_WEIGHTS.get(definition.key, {})
            for agency_id, kind in spec.agencies:
                allowed = (not definition.opened_by_agency_types
                           or kind in definition.opened_by_agency_types)
                if allowed:
                    owners.append(agency_id)
                    weights.append(preferred.get(kind, 0.02 if preferred else 1.0))
            if not owners:
                owners, weights = [spec.agencies[0][0]], [1.0]
            domestic = definition.key in ("marac", "restorative_justice")
            self.types[definition.key] = _TypeInfo(
                definition=definition,
                interpreter=wf.Interpreter(definition, forms, calendar),
                samplers={k: compiled[s.form] for k, s in definition.stages.items()
                          if s.form and s.form in compiled},
                answer_anchored=frozenset(
                    k for k, s in definition.stages.items()
                    if s.deadline is not None and s.deadline.anchor.kind is AnchorKind.ANSWER
                ),
                owners=tuple(owners),
                owner_cum=tuple(accumulate(weights)),
                victim_role="victim",
                perpetrator_role="perpetrator" if domestic else "alleged_perpetrator",
                perpetrator_rate={"marac": 0.97, "restorative_justice": 1.0,
                                  "hate_crime": 0.45, "asb": 0.55}.get(definition.key, 0.4),
            )
        keys = sorted(self.types)
        self.type_keys = tuple(keys)
        self.type_cum = tuple(accumulate(CASE_TYPE_WEIGHTS.get(k, 0.05) for k in keys))
        ad_hoc = [(self.first_of_type[t], w) for t, w in AD_HOC_AGENCY_TYPES.items()
                  if t in self.first_of_type]
        self.ad_hoc_agencies = tuple(a for a, _ in ad_hoc) or (spec.agencies[0][0],)
        self.ad_hoc_cum = tuple(accumulate(w for _, w in ad_hoc)) or (1.0,)


@dataclass
class ChunkRows:
    """The rows of a run of consecutive cases, in the shape the writer wants (see rows.py)."""

    first: int
    count: int = 0
    cases: list[tuple[str, int, Any]] = field(default_factory=list)  # (prefix, year, tail)
    people: list[Any] = field(default_factory=list)  # tail; the k-th is local person k
    person_addresses: list[tuple[int, Any]] = field(default_factory=list)  # (local person, tail)
    vulnerabilities: list[tuple[int, Any]] = field(default_factory=list)
    case_shares: list[Any] = field(default_factory=list)
    # person: None, a pooled person's id, or -(k + 1) for local person k
    case_participants: list[tuple[int | None, Any]] = field(default_factory=list)
    stage_instances: list[Any] = field(default_factory=list)  # the k-th is local stage k
    actions: list[tuple[int | None, Any]] = field(default_factory=list)  # (local stage, tail)
    stats: dict[str, int] = field(default_factory=dict)


class _Action:
    __slots__ = ("accepted_at", "agency", "created", "due", "fate", "planned", "reason",
                 "seq", "settled_at", "stage", "status", "title", "user")

    def __init__(self, title: str, agency: int, user: int | None, due: datetime,
                 created: datetime, stage: str | None, seq: int | None) -> None:
        self.title, self.agency, self.user, self.due = title, agency, user, due
        self.created, self.stage, self.seq = created, stage, seq
        self.status = "open"
        self.fate = _DONE
        self.planned = created
        self.settled_at: datetime | None = None
        self.accepted_at: datetime | None = None
        self.reason: str | None = None


def compute_chunk(world: World, first: int, opened: Sequence[int]) -> ChunkRows:
    """Cases first .. first + len(opened) - 1, opened at the given POSIX seconds."""
    out = ChunkRows(first=first)
    for offset, seconds in enumerate(opened):
        _CaseBuilder(world, out, first + offset, datetime.fromtimestamp(seconds, UTC)).build()
        out.count += 1
    return out


class _CaseBuilder:
    def __init__(self, world: World, out: ChunkRows, index: int, opened: datetime) -> None:
        self.w = world
        self.out = out
        self.index = index
        self.opened = opened
        self.rng = random.Random(f"{world.seed}:{index}")  # noqa: S311 (synthetic data)
        self.case_id = world.case_base + index + 1
        self.shares: dict[int, datetime] = {}
        self.actions: list[_Action] = []
        self.planned: dict[tuple[str, int], datetime | None] = {}
        self.version = 1
        self.last_change = opened

    # -- the case ------------------------------------------------------------------------

    def build(self) -> None:
        w, rng, opened = self.w, self.rng, self.opened
        key = w.type_keys[_pick(w.type_cum, rng)]
        info = self.info = w.types[key]
        self.owner = info.owners[_pick(info.owner_cum, rng)]
        staff = w.users_by_agency.get(self.owner)
        self.lead = rng.choice(staff) if staff and rng.random() < 0.8 else None
        self.lead_agency = w.user_agency[self.lead] if self.lead else self.owner
        self.calendar = info.interpreter.calendar
        victim, known_victim, repeat = self._victim(key)
        perpetrator = self._perpetrator(info)
        location = self._incident_location(known_victim)
        self.severity = _severity(key, rng, repeat)
        self.context = CaseContext(severity=self.severity,
                                   partnership_types=w.partnership_types)
        facts = {}
        for name in info.definition.facts:
            if name == "potential_escalation":
                facts[name] = rng.random() < (0.65 if repeat else 0.25)
            elif name == "repeat_referral":
                facts[name] = repeat and rng.random() < 0.5
            else:
                facts[name] = rng.random() < 0.65
        # Where the story stops: usually today; some cases were left alone part way.
        stop = w.now
        if rng.random() < 0.1:
            stop = opened + (w.now - opened) * rng.random()
        self.stop = stop
        self.pace = rng.choice((0.15, 0.25, 0.4, 0.6))  # share of each deadline used
        self.late = rng.choice((0.03, 0.08, 0.15, 0.3))  # chance a stage is done late
        self.pause_chance = 0.08
        outcome = info.interpreter.start(wf.OpenCase(at=opened, facts=facts))
        self.state = outcome.state
        self._effects(outcome.effects, opened)
        if rng.random() < 0.3:
            self._ad_hoc_action(opened)
        self._walk()
        self._finish_actions()
        self._rows(victim, perpetrator, location)

    # -- people and places -------------------------------------------------------------

    def _victim(self, key: str) -> tuple[int, KnownPerson | None, bool]:
        """(participant person ref, the known person, repeat victim?); writes new people."""
        rng, pop = self.rng, self.w.population
        known = pop.anchored_victim(self.index)
        # A Case Review is asked for by someone who has reported again and again.
        again = REPEAT_VICTIM_RATE.get(key, 0.25)
        if known is None and pop.victims and rng.random() < again:
            known = pop.victims[pop.victim_zipf.draw(rng)]
        if known is not None:
            if rng.random() < 0.14:
                # The same person reported again under another spelling (or a slip in the
                # date of birth): a new record the duplicate check should find.
                given = known.given_name
                family = known.family_name
                if rng.random() < 0.6:
                    given = names.misspelt(given, rng)
                else:
                    family = names.typo(family, rng)
                born = known.date_of_birth
                if rng.random() < 0.2:
                    born = _dob_slip(born, rng)
                local = self._new_person(given, family, known.gender, born, known.home_id,
                                         victim=True, domestic=key == "marac")
                return -(local + 1), known, True
            return known.id, known, True
        female = rng.random() < (0.85 if key == "marac" else 0.6)
        given = rng.choice(names.FEMALE_NAMES if female else names.MALE_NAMES)
        family = rng.choice(names.FAMILY_NAMES)
        born = date(rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28))
        home = pop.homes[int(rng.random() * len(pop.homes))].id
        local = self._new_person(given, family, "female" if female else "male", born, home,
                                 victim=True, domestic=key == "marac")
        return -(local + 1), None, False

    def _perpetrator(self, info: _TypeInfo) -> int | None:
        rng, pop = self.rng, self.w.population
        known = pop.anchored_perpetrator(self.index)
        if known is None:
            if rng.random() >= info.perpetrator_rate:
                return None
            if pop.perpetrators and rng.random() < 0.45:
                known = pop.perpetrators[pop.perpetrator_zipf.draw(rng)]
        if known is not None:
            return known.id
        female = rng.random() < 0.2
        given = rng.choice(names.FEMALE_NAMES if female else names.MALE_NAMES)
        born = date(rng.randint(1958, 2009), rng.randint(1, 12), rng.randint(1, 28))
        home = pop.homes[int(rng.random() * len(pop.homes))].id
        local = self._new_person(given, rng.choice(names.FAMILY_NAMES),
                                 "female" if female else "male", born, home,
                                 victim=False, domestic=False)
        return -(local + 1)

    def _incident_location(self, known: KnownPerson | None) -> int:
        rng, pop = self.rng, self.w.population
        if rng.random() < 0.4:
            if known is not None:
                return known.home_id
            return self._home_of_new_victim
        return pop.places[pop.place_zipf.draw(rng)].id

    def _new_person(self, given: str, family: str, gender: str, born: date, home: int, *,
                    victim: bool, domestic: bool) -> int:
        rng, out = self.rng, self.out
        local = len(out.people)
        created = self.opened
        tails = self.w.tails
        out.people.append(tails["people"](person_values(
            rng, given, family, gender, born, created, self.owner,
            restricted=domestic and rng.random() < 0.5,
        )))
        out.person_addresses.append((local, tails["person_addresses"]((
            home, "home", (created - timedelta(days=rng.randint(60, 4000))).date(),
        ))))
        if victim:
            self._home_of_new_victim = home
            kinds = rng.sample(VULNERABILITIES, k=rng.choice((0, 0, 0, 1, 1, 2)))
            if domestic:
                kinds.append("domestic_abuse")
            for kind in kinds:
                out.vulnerabilities.append((local, tails["vulnerabilities"]((kind, None, created))))
        return local

    # -- the walk ---------------------------------------------------------------------

    def _walk(self) -> None:
        rng, info = self.rng, self.info
        definition = info.definition
        t = self.opened
        resume_at: datetime | None = None
        paused_at: datetime | None = None
        events = 0
        closed_by_hand = rng.random() < 0.015
        while self.state.status != wf.CLOSED and events < MAX_EVENTS:
            events += 1
            state = self.state
            if state.status == wf.PAUSED:
                if resume_at is None or resume_at >= self.stop:
                    return
                shift = resume_at - (paused_at or resume_at)
                self._handle(wf.Resume(at=resume_at), resume_at)
                # The paused work picks up where it left off.
                for k, planned in self.planned.items():
                    if planned is not None and planned > resume_at - shift:
                        self.planned[k] = planned + shift
                t, resume_at = resume_at, None
                continue
            active = state.active()
            if not active:
                return
            best, best_time = None, None
            for run in active:
                planned = self._planned(run)
                if planned is not None and (best_time is None or planned < best_time):
                    best, best_time = run, planned
            if state.next_reviews:
                stage_key, due = min(state.next_reviews.items(), key=lambda kv: kv[1])
                if best_time is None or due <= best_time:
                    if due >= self.stop:
                        return
                    t = max(t, due)
                    self._handle(wf.ReviewDue(at=t, stage=stage_key), t)
                    continue
            if best is None or best_time is None:
                return  # waiting on something that will not happen (an agency's action)
            when = max(best_time, t)
            if when >= self.stop:
                return
            stage = definition.stages[best.key]
            if (stage.pausable and paused_at is None and best.due_at is not None
                    and rng.random() < self.pause_chance):
                paused_at = t + (when - t) * rng.uniform(0.1, 0.9)
                resume_at = paused_at + timedelta(days=rng.uniform(3, 45), hours=rng.randint(0, 8))
                if paused_at < self.stop:
                    self._handle(wf.Pause(at=paused_at, reason=rng.choice(PAUSE_REASONS)),
                                 paused_at)
                    t = paused_at
                    continue
            self._settle_due(when)
            t = when
            if closed_by_hand and events > 3 and not any(
                definition.stages[r.key].completes_when_actions_settled for r in active
            ):
                self._settle_all(t)
                self._handle(wf.Close(at=t, reason=rng.choice(MANUAL_CLOSE_REASONS)), t)
                return
            if stage.completes_when_actions_settled:
                self._settle_stage_actions(best, t)
                continue
            if not self._submit(best, t):
                return
            if rng.random() < 0.06 and self.state.status != wf.CLOSED:
                self._ad_hoc_action(t)

    def _planned(self, run: wf.StageRun) -> datetime | None:
        """When the partnership gets this stage done: drawn once, against its deadline."""
        key = (run.key, run.sequence)
        if key in self.planned:
            return self.planned[key]
        rng = self.rng
        stage = self.info.definition.stages[run.key]
        if stage.completes_when_actions_settled:
            mine = [a for a in self.actions if a.stage == run.key and a.seq == run.sequence]
            if not mine or any(a.fate == _NEVER for a in mine):
                planned = None
            else:
                planned = max(a.planned for a in mine)
            self.planned[key] = planned
            return planned
        late = rng.random() < self.late
        due = run.due_at
        if run.key in self.info.answer_anchored and due is not None:
            # A meeting is recorded on its day (the deadline is that day's close).
            planned = due - timedelta(hours=rng.uniform(1, 7))
            if late:
                planned += timedelta(days=rng.uniform(1, 6))
        elif due is not None and due > run.opened_at:
            share = rng.uniform(1.05, 2.5) if late else self.pace * rng.uniform(0.3, 1.1)
            planned = run.opened_at + (due - run.opened_at) * min(share, 2.5)
            if not late and planned > due:
                planned = due - (due - run.opened_at) * 0.05
        else:
            planned = run.opened_at + timedelta(hours=rng.uniform(2, 30))
        planned = max(self._working_moment(planned), run.opened_at + timedelta(minutes=5))
        self.planned[key] = planned
        return planned

    def _working_moment(self, moment: datetime) -> datetime:
        """Move a moment outside working hours to the next working morning."""
        local = moment.astimezone(LONDON)
        day = local.date()
        calendar = self.calendar
        if calendar.is_open_day(day) and 8 <= local.hour < 18:
            return moment
        if not (calendar.is_open_day(day) and local.hour < 8):
            day = calendar.next_open_day(day)
        random_ = self.rng.random
        return datetime.combine(day, time(8 + int(random_() * 9), int(random_() * 60)),
                                tzinfo=LONDON).astimezone(UTC)

    def _submit(self, run: wf.StageRun, at: datetime) -> bool:
        info, rng = self.info, self.rng
        sampler = info.samplers.get(run.key)
        event = None
        for _ in range(4):
            answers = sampler.sample(rng, at, self.context, self.state) if sampler else {}
            event = wf.SubmitStage(at=at, stage=run.key, sequence=run.sequence,
                                   answers=answers)
            try:
                outcome = info.interpreter.handle(self.state, event)
            except wf.WorkflowError:
                continue
            if not self._possible(outcome):
                continue
            if any(type(e) is wf.CaseClosed for e in outcome.effects):
                self._settle_all(at)
            self.state = outcome.state
            self._changed(at)
            self._effects(outcome.effects, at)
            return True
        return False

    def _possible(self, outcome: wf.Outcome) -> bool:
        """Would the services accept it? Every agency named must exist, and a step that
        closes the case cannot hand out new actions at the same time."""
        closes = False
        requested = False
        for effect in outcome.effects:
            kind = type(effect)
            if kind is wf.StageOpened or kind is wf.ActionRequested:
                worker = effect.worker if kind is wf.StageOpened else effect.to
                if (worker.kind is WorkerKind.AGENCY_TYPE
                        and worker.agency_type not in self.w.first_of_type):
                    return False
                requested = requested or kind is wf.ActionRequested
            elif kind is wf.CaseClosed:
                closes = True
        return not (closes and requested)

    def _handle(self, event: wf.Event, at: datetime) -> None:
        outcome = self.info.interpreter.handle(self.state, event)
        self.state = outcome.state
        if any(type(e) not in _SIDE_ONLY for e in outcome.effects):
            self._changed(at)
        self._effects(outcome.effects, at)

    def _changed(self, at: datetime) -> None:
        self.version += 1
        if at > self.last_change:
            self.last_change = at

    def _effects(self, effects: Sequence[Any], at: datetime) -> None:
        for effect in effects:
            kind = type(effect)
            if kind is wf.StageOpened:
                if effect.worker.kind is WorkerKind.AGENCY_TYPE:
                    self._share(self._resolve(effect.worker)[0], at)
            elif kind is wf.ActionRequested:
                agency, user, _ = self._resolve(effect.to)
                self._share(agency, at)
                action = _Action(effect.title, agency, user, effect.due_at, at, effect.stage,
                                 effect.sequence)
                self._plan_action(action)
                self.actions.append(action)

    def _resolve(self, worker: Worker) -> tuple[int, int | None, str | None]:
        """Who a stage or action goes to, as storage.cases.workflow._resolve_worker says."""
        kind = worker.kind
        if kind is WorkerKind.LEAD:
            if self.lead is not None:
                return self.lead_agency, self.lead, None
            return self.owner, None, None
        if kind is WorkerKind.OWNER:
            return self.owner, None, None
        if kind is WorkerKind.ROLE:
            return self.owner, None, worker.role
        wanted = str(worker.agency_type)
        types = self.w.agency_types
        if types.get(self.owner) == wanted:
            return self.owner, None, worker.role
        for agency_id in self.shares:
            if types.get(agency_id) == wanted:
                return agency_id, None, worker.role
        return self.w.first_of_type[wanted], None, worker.role

    def _share(self, agency: int, at: datetime) -> None:
        if agency != self.owner and agency not in self.shares:
            self.shares[agency] = at

    # -- actions ----------------------------------------------------------------------

    def _ad_hoc_action(self, at: datetime) -> None:
        w, rng = self.w, self.rng
        agency = w.ad_hoc_agencies[_pick(w.ad_hoc_cum, rng)]
        staff = w.users_by_agency.get(agency)
        user = rng.choice(staff) if staff and rng.random() < 0.3 else None
        due = datetime.combine((at + timedelta(days=rng.randint(3, 28))).astimezone(LONDON).date(),
                               time(17), tzinfo=LONDON).astimezone(UTC)
        if due <= at:
            return
        self._share(agency, at)
        action = _Action(rng.choice(AD_HOC_ACTIONS), agency, user, due, at, None, None)
        self._plan_action(action)
        self.actions.append(action)
        self._changed(at)

    def _plan_action(self, action: _Action) -> None:
        rng = self.rng
        roll = rng.random()
        action.fate = _DONE if roll < 0.86 else _DECLINED if roll < 0.95 else _NEVER
        span = action.due - action.created
        share = rng.uniform(0.2, 1.0) if rng.random() < 0.8 else rng.uniform(1.0, 2.2)
        action.planned = self._working_moment(action.created + span * share)
        if action.planned <= action.created:
            action.planned = action.created + timedelta(minutes=30)
        if rng.random() < 0.6:
            action.accepted_at = action.created + (action.planned - action.created) * 0.2

    def _settle(self, action: _Action, at: datetime, fate: str) -> None:
        action.status = "done" if fate == _DONE else "declined"
        action.settled_at = max(at, action.created)
        if fate == _DECLINED:
            action.reason = self.rng.choice(DECLINE_REASONS)
        self._changed(action.settled_at)

    def _settle_due(self, until: datetime) -> None:
        """Actions their agencies finish before `until` (those not holding up a stage)."""
        due = [a for a in self.actions
               if a.status == "open" and a.fate != _NEVER and a.planned <= until]
        if not due:
            return
        waiting = {(r.key, r.sequence) for r in self.state.active()
                   if self.info.definition.stages[r.key].completes_when_actions_settled}
        for action in due:
            if (action.stage, action.seq) not in waiting:
                self._settle(action, action.planned, action.fate)

    def _settle_all(self, at: datetime) -> None:
        """Before a case closes, whatever is still owed is finished or handed back."""
        for action in self.actions:
            if action.status == "open":
                fate = _DECLINED if action.fate == _DECLINED else _DONE
                self._settle(action, min(at, max(action.planned, action.created)), fate)

    def _settle_stage_actions(self, run: wf.StageRun, at: datetime) -> None:
        done = declined = 0
        for action in self.actions:
            if action.stage == run.key and action.seq == run.sequence:
                if action.status == "open":
                    self._settle(action, min(action.planned, at), action.fate)
                if action.status == "done":
                    done += 1
                elif action.status == "declined":
                    declined += 1
        self._handle(wf.ActionsSettled(at=at, stage=run.key, sequence=run.sequence, done=done,
                                       declined=declined, outstanding=0), at)

    def _finish_actions(self) -> None:
        """Where each action stands at the end of the story."""
        if self.state.status == wf.CLOSED:
            return  # everything was settled before it closed
        stop = self.stop
        waiting: dict[tuple[str | None, int | None], list[_Action]] = {}
        for run in self.state.active():
            if self.info.definition.stages[run.key].completes_when_actions_settled:
                waiting[(run.key, run.sequence)] = []
        for action in self.actions:
            if action.status != "open":
                continue
            group = waiting.get((action.stage, action.seq))
            if group is not None:
                group.append(action)
            elif action.fate != _NEVER and action.planned <= stop:
                self._settle(action, action.planned, action.fate)
        for group in waiting.values():
            # A stage waiting on its actions: those done by now are done, as long as one is
            # still owed (had they all been done, the stage would have moved on).
            owed = [a for a in group if a.fate == _NEVER or a.planned > stop]
            for action in group:
                if owed and action not in owed:
                    self._settle(action, action.planned, action.fate)
        for action in self.actions:
            if (action.status == "open" and action.accepted_at is not None
                    and action.accepted_at <= stop):
                action.status = "accepted"

    # -- rows -------------------------------------------------------------------------

    def _rows(self, victim: int, perpetrator: int | None, location: int) -> None:
        w, out, rng, info, state = self.w, self.out, self.rng, self.info, self.state
        tails = w.tails
        definition = info.definition
        case_id = self.case_id
        opened = self.opened
        status = state.status
        closure = state.close_reason[:200] if state.close_reason else None
        title = rng.choice(TITLES.get(definition.key, ("Case",)))
        restricted = definition.key == "marac" and rng.random() < 0.4
        out.cases.append((definition.reference_prefix, opened.year, tails["cases"]((
            case_id, definition.key, definition.version, definition.content_hash, title, None,
            status, state.risk, self.owner, self.lead, restricted, state.variables(), opened,
            state.closed_at, closure, self.lead, opened, self.last_change, self.version,
        ))))
        participant = tails["case_participants"]
        if w.copy_simple:
            # Small rows, many of them: rendered directly (no free text in them).
            out.case_shares += [f"{case_id}\t{agency}\t{at.isoformat()}"
                                for agency, at in self.shares.items()]
            when = opened.isoformat()
            out.case_participants.append((victim, f"{case_id}\t{info.victim_role}\t{NULL}\t{when}"))
            if perpetrator is not None:
                out.case_participants.append(
                    (perpetrator, f"{case_id}\t{info.perpetrator_role}\t{NULL}\t{when}"))
            out.case_participants.append(
                (None, f"{case_id}\tincident_location\t{location}\t{when}"))
        else:
            for agency, at in self.shares.items():
                out.case_shares.append(tails["case_shares"]((case_id, agency, at)))
            out.case_participants.append(
                (victim, participant((case_id, info.victim_role, None, opened))))
            if perpetrator is not None:
                out.case_participants.append(
                    (perpetrator, participant((case_id, info.perpetrator_role, None, opened))))
            out.case_participants.append(
                (None, participant((case_id, "incident_location", location, opened))))
        local_stage: dict[tuple[str, int], int] = {}
        stages = out.stage_instances
        copy = w.copy
        for run in state.stages:
            spec = definition.stages[run.key]
            agency, user, role = self._resolve(spec.worked_by)
            completed = run.status == wf.COMPLETED
            local_stage[(run.key, run.sequence)] = len(stages)
            if copy:
                # The hottest row: rendered directly (keys, forms and roles need no escaping).
                stages.append(
                    f"{case_id}\t{run.key}\t{run.sequence}\t{run.status}\t{spec.form or NULL}\t"
                    f"{NULL if user is None else user}\t{agency}\t{role or NULL}\t"
                    f"{run.opened_at.isoformat()}\t{_stamp(run.warn_at)}\t{_stamp(run.due_at)}\t"
                    + (f"{run.completed_at.isoformat()}\t{NULL if user is None else user}\t"  # type: ignore[union-attr]
                       f"{copy_text(json_text(run.answers))}"
                       if completed and run.answers is not None else f"{NULL}\t{NULL}\t{NULL}")
                )
                continue
            stages.append(tails["stage_instances"]((
                case_id, run.key, run.sequence, run.status, spec.form, user, agency, role,
                run.opened_at, run.warn_at, run.due_at, run.completed_at if completed else None,
                user if completed else None,
                dict(run.answers) if completed and run.answers is not None else None,
            )))
        for action in self.actions:
            stage = (local_stage.get((action.stage, action.seq))
                     if action.stage is not None else None)
            done = action.status == "done"
            updated = action.settled_at or action.accepted_at or action.created
            if action.status == "open" or action.status == "accepted":
                updated = action.accepted_at if action.status == "accepted" else action.created
            out.actions.append((stage, tails["actions"]((
                case_id, action.title, None, action.agency, action.user, action.status,
                action.due, action.reason, "Done as agreed" if done else None,
                action.settled_at if done else None, self.lead if stage is None else None,
                action.created, updated,
            ))))
        stats = out.stats
        stats[status] = stats.get(status, 0) + 1


_SIDE_ONLY = (wf.Notification, wf.Referral, wf.ActionRequested)


def _stamp(moment: datetime | None) -> str:
    return NULL if moment is None else moment.isoformat()


def _pick(cum: Sequence[float], rng: random.Random) -> int:
    return min(bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)


def _severity(key: str, rng: random.Random, repeat: bool) -> float:
    """How many checklist questions come back "yes": MARAC referrals are mostly high risk."""
    base = {"marac": 0.55, "asb": 0.25, "hate_crime": 0.35}.get(key, 0.3)
    return min(0.9, max(0.05, rng.gauss(base + (0.1 if repeat else 0.0), 0.12)))


def _dob_slip(born: date, rng: random.Random) -> date:
    if born.day <= 12 and born.day != born.month and rng.random() < 0.5:
        return date(born.year, born.day, born.month)  # day and month swapped
    return date(born.year + rng.choice((-1, 1)), born.month, born.day)


def person_values(
    rng: random.Random, given: str, family: str, gender: str, born: date, created: datetime,
    agency: int | None, *, restricted: bool,
) -> tuple[Any, ...]:
    """A person's row (rows.COLUMNS["people"] tail): contact details that fit each other."""
    roll = rng.random()
    phone = email = None
    if roll < 0.55:
        contact = "phone"
    elif roll < 0.7:
        contact = "letter"
    elif roll < 0.8:
        contact = "email"
    elif roll < 0.9:
        contact = "through_agency"
    else:
        contact = None
    if contact == "phone" or rng.random() < 0.5:
        phone = f"07700 900{rng.randint(0, 999):03d}"  # Ofcom's range for drama: never real
    if contact == "email" or rng.random() < 0.2:
        email = f"{given}.{family}{rng.randint(1, 99)}@example.org".lower()
    interpreter = rng.random() < 0.04
    return (
        given, family, None, born, gender, contact, phone, email,
        None if phone is None else rng.random() < 0.7, interpreter,
        rng.choice(LANGUAGES) if interpreter else None, restricted, agency, created, created,
    )


def known_person_values(person: KnownPerson, seed: int) -> tuple[Any, ...]:
    rng = random.Random(f"{seed}:known:{person.id}")  # noqa: S311
    return person_values(rng, person.given_name, person.family_name, person.gender,
                         person.date_of_birth, person.created_at, None, restricted=False)


def definitions_spec(rows: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    return tuple((r.source_text, r.source_name, r.content_hash) for _, r in sorted(rows.items()))
