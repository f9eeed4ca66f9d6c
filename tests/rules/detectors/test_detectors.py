"""A table of cases per detector: just inside and just outside each window, one incident
reported to several agencies counted once, and the local variants through configuration.
Each case is judged both ways the detectors run: for one subject (intake) and for all (sweep
query), which must agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.detectors import config as detector_config
from rules.detectors import find_all, repeat_victim_counts
from storage.cases.models import LinkKind, ParticipantRole
from storage.detections.queries import find_hits, months_before
from storage.flags.models import FlagKind
from tests import factories
from tests.rules.detectors.helpers import person, place, report, same_incident

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SIX_MONTHS = months_before(NOW, 6)  # 2025-09-02 09:00, the first moment inside
TWELVE_MONTHS = months_before(NOW, 12)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
DEFAULTS = detector_config.load()


def hits_for(session, name, *, config=DEFAULTS, person_ids=(), location_ids=(),
             trigger=None):
    """The detector's hits at NOW for these subjects; checks the all-subjects query agrees."""
    detector = config[name]
    one = find_hits(session, config, detector, NOW, person_ids=list(person_ids),
                    location_ids=list(location_ids), trigger_case_id=trigger)
    every = find_hits(session, config, detector, NOW)
    wanted = {("person", i) for i in person_ids} | {("location", i) for i in location_ids}
    assert [h for h in every if (h.subject, h.subject_id) in wanted
            and (trigger is None or h.case_id == trigger)] == one
    return one


@pytest.fixture
def owner(session):
    return factories.agency(session)


@pytest.fixture
def other_agency(session):
    return factories.agency(session)


# --- repeat victim ------------------------------------------------------------------------


@pytest.mark.parametrize(("first_at", "expected"), [
    (SIX_MONTHS, 1),  # just inside: the window's first moment
    (SIX_MONTHS - SECOND, 0),  # just outside
])
def test_repeat_victim_window(session, frozen_clock, owner, first_at, expected):
    victim = person(session)
    report(session, frozen_clock, first_at, owner, victim=victim)
    report(session, frozen_clock, NOW - 30 * DAY, owner, victim=victim)
    newest = report(session, frozen_clock, NOW, owner, victim=victim)
    hits = hits_for(session, "repeat_victim", person_ids=[victim.id], trigger=newest.id)
    assert len(hits) == expected
    if hits:
        assert (hits[0].reports, hits[0].case_id, hits[0].subject) == (3, newest.id, "person")


def test_repeat_victim_counts_two_reports_as_not_yet(session, frozen_clock, owner):
    victim = person(session)
    report(session, frozen_clock, NOW - DAY, owner, victim=victim)
    report(session, frozen_clock, NOW, owner, victim=victim)
    assert hits_for(session, "repeat_victim", person_ids=[victim.id]) == []


def test_one_incident_reported_to_several_agencies_counts_once(
        session, frozen_clock, owner, other_agency):
    victim = person(session)
    police = report(session, frozen_clock, NOW - 20 * DAY, owner, victim=victim)
    council = report(session, frozen_clock, NOW - 19 * DAY, other_agency, victim=victim)
    same_incident(session, council, police)
    newest = report(session, frozen_clock, NOW, other_agency, victim=victim)
    assert hits_for(session, "repeat_victim", person_ids=[victim.id]) == []
    # A third agency's record of the first incident, linked to the second record only (a
    # chain) and as a duplicate: still that one incident.
    housing = report(session, frozen_clock, NOW - 18 * DAY, factories.agency(session),
                     victim=victim)
    same_incident(session, council, housing, LinkKind.DUPLICATE_OF)
    assert hits_for(session, "repeat_victim", person_ids=[victim.id]) == []
    # A separate incident: now three.
    report(session, frozen_clock, NOW - 10 * DAY, owner, victim=victim)
    frozen_clock.set(NOW)
    hits = hits_for(session, "repeat_victim", person_ids=[victim.id])
    assert [(h.reports, h.case_id) for h in hits] == [(3, newest.id)]


def test_related_links_do_not_merge_incidents(session, frozen_clock, owner):
    victim = person(session)
    a = report(session, frozen_clock, NOW - 20 * DAY, owner, victim=victim)
    b = report(session, frozen_clock, NOW - 10 * DAY, owner, victim=victim)
    same_incident(session, a, b, LinkKind.RELATED)
    report(session, frozen_clock, NOW, owner, victim=victim)
    assert [h.reports for h in hits_for(session, "repeat_victim", person_ids=[victim.id])] == [3]


def test_complainants_count_but_witnesses_and_case_reviews_do_not(session, frozen_clock, owner):
    victim = person(session)
    report(session, frozen_clock, NOW - 3 * DAY, owner, victim=victim,
           role=ParticipantRole.WITNESS)
    report(session, frozen_clock, NOW - 2 * DAY, owner, victim=victim,
           case_type="asb_case_review", role=ParticipantRole.VICTIM)
    report(session, frozen_clock, NOW - DAY, owner, victim=victim,
           role=ParticipantRole.COMPLAINANT)
    report(session, frozen_clock, NOW, owner, victim=victim)
    assert hits_for(session, "repeat_victim", person_ids=[victim.id]) == []
    assert repeat_victim_counts(session, DEFAULTS, [victim.id], NOW) == {victim.id: 2}


def test_local_repeat_victim_rule_from_configuration(session, frozen_clock, owner):
    """Bedfordshire-style: more than 1 report in 12 months."""
    config = detector_config.load_text(
        "detectors:\n  repeat_victim:\n    reports: 2\n    within_months: 12\n")
    victim = person(session)
    report(session, frozen_clock, TWELVE_MONTHS + SECOND, owner, victim=victim)
    report(session, frozen_clock, NOW, owner, victim=victim)
    assert hits_for(session, "repeat_victim", person_ids=[victim.id]) == []
    assert len(hits_for(session, "repeat_victim", config=config, person_ids=[victim.id])) == 1


# --- repeat location and perpetrator -------------------------------------------------------


@pytest.mark.parametrize(("first_at", "expected"), [(SIX_MONTHS, 1), (SIX_MONTHS - SECOND, 0)])
def test_repeat_location_window(session, frozen_clock, owner, first_at, expected):
    spot = place(session)
    report(session, frozen_clock, first_at, owner, location=spot)
    for days in (40, 30, 20):
        report(session, frozen_clock, NOW - days * DAY, owner, location=spot)
    report(session, frozen_clock, NOW, owner, location=spot)
    hits = hits_for(session, "repeat_location", location_ids=[spot.id])
    assert [(h.subject, h.reports) for h in hits] == [("location", 5)] * expected


@pytest.mark.parametrize(("first_at", "expected"), [(SIX_MONTHS, 1), (SIX_MONTHS - SECOND, 0)])
def test_repeat_perpetrator_window(session, frozen_clock, owner, first_at, expected):
    named = person(session)
    report(session, frozen_clock, first_at, owner, perpetrator=named)
    report(session, frozen_clock, NOW - DAY, owner, perpetrator=named)
    report(session, frozen_clock, NOW, owner, victim=named,
           role=ParticipantRole.ALLEGED_PERPETRATOR)
    assert len(hits_for(session, "repeat_perpetrator", person_ids=[named.id])) == expected


# --- ASB Case Review -----------------------------------------------------------------------


@pytest.mark.parametrize(("first_at", "expected"), [(SIX_MONTHS, 1), (SIX_MONTHS - SECOND, 0)])
def test_case_review_threshold_window(session, frozen_clock, owner, first_at, expected):
    victim = person(session)
    report(session, frozen_clock, first_at, owner, victim=victim)
    report(session, frozen_clock, NOW - DAY, owner, victim=victim, case_type="hate_crime")
    report(session, frozen_clock, NOW, owner, victim=victim)
    hits = hits_for(session, "case_review_threshold", person_ids=[victim.id])
    assert [(h.reports, h.route) for h in hits] == [(3, "reports")] * expected


def test_case_review_counts_only_asb_and_hate_reports(session, frozen_clock, owner):
    victim = person(session)
    report(session, frozen_clock, NOW - 2 * DAY, owner, victim=victim, case_type="marac")
    report(session, frozen_clock, NOW - DAY, owner, victim=victim)
    report(session, frozen_clock, NOW, owner, victim=victim)
    assert hits_for(session, "case_review_threshold", person_ids=[victim.id]) == []


def test_case_review_hate_variants(session, frozen_clock, owner):
    one_hate = detector_config.load_text(
        "detectors:\n  case_review_threshold:\n    hate_incidents: 1\n")
    two_with_hate = detector_config.load_text(
        "detectors:\n  case_review_threshold:\n    reports_with_hate: 2\n")
    victim = person(session)
    hate = report(session, frozen_clock, NOW, owner, victim=victim, case_type="hate_crime")
    assert hits_for(session, "case_review_threshold", person_ids=[victim.id]) == []
    assert [h.route for h in hits_for(session, "case_review_threshold", config=one_hate,
                                      person_ids=[victim.id])] == ["hate incident"]
    assert hits_for(session, "case_review_threshold", config=two_with_hate,
                    person_ids=[victim.id]) == []
    # An ASB report flagged hate-motivated is a hate incident too.
    other = person(session)
    report(session, frozen_clock, NOW - DAY, owner, victim=other)
    report(session, frozen_clock, NOW, owner, victim=other, flags=(FlagKind.HATE_MOTIVATED,))
    assert [h.route for h in hits_for(session, "case_review_threshold", config=two_with_hate,
                                      person_ids=[other.id])] == ["reports with hate"]
    assert hate.id


def test_case_review_location_variant_needs_several_people(session, frozen_clock, owner):
    config = detector_config.load_text(
        "detectors:\n  case_review_threshold:\n    location_reports: 5\n")
    spot, alone = place(session), person(session)
    for days in (50, 40, 30, 20, 0):
        report(session, frozen_clock, NOW - days * DAY, owner, victim=alone, location=spot)
    assert hits_for(session, "case_review_threshold", config=config,
                    location_ids=[spot.id]) == []
    report(session, frozen_clock, NOW, owner, victim=person(session), location=spot)
    hits = hits_for(session, "case_review_threshold", config=config, location_ids=[spot.id])
    assert [(h.subject, h.reports, h.route) for h in hits] == [("location", 6, "location")]


def test_case_review_duty_at_two_reports_once_per_window(session, frozen_clock, owner):
    from storage.detections.services import record_hits

    victim = person(session)
    report(session, frozen_clock, SIX_MONTHS - SECOND, owner, victim=victim)
    report(session, frozen_clock, NOW - DAY, owner, victim=victim)
    assert hits_for(session, "case_review_duty", person_ids=[victim.id]) == []
    second = report(session, frozen_clock, NOW, owner, victim=victim)
    hits = hits_for(session, "case_review_duty", person_ids=[victim.id])
    assert [(h.reports, h.case_id) for h in hits] == [(2, second.id)]
    record_hits(session, DEFAULTS, hits, NOW)
    report(session, frozen_clock, NOW, owner, victim=victim)  # a third: told already
    assert hits_for(session, "case_review_duty", person_ids=[victim.id]) == []


# --- MARAC ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("first_at", "expected"), [(TWELVE_MONTHS, 1),
                                                     (TWELVE_MONTHS - SECOND, 0)])
def test_marac_potential_escalation_window(session, frozen_clock, owner, first_at, expected):
    victim = person(session)
    report(session, frozen_clock, first_at, owner, victim=victim,
           flags=(FlagKind.DOMESTIC_ABUSE,))
    report(session, frozen_clock, NOW - DAY, owner, victim=victim,
           flags=(FlagKind.DOMESTIC_ABUSE,))
    report(session, frozen_clock, NOW - DAY, owner, victim=victim)  # not domestic abuse
    report(session, frozen_clock, NOW, owner, victim=victim, case_type="marac")
    assert len(hits_for(session, "marac_escalation", person_ids=[victim.id])) == expected


def test_marac_escalation_three_in_six_months_variant(session, frozen_clock, owner):
    config = detector_config.load_text(
        "detectors:\n  marac_escalation:\n    within_months: 6\n")
    victim = person(session)
    for at in (SIX_MONTHS - DAY, NOW - DAY, NOW):
        report(session, frozen_clock, at, owner, victim=victim, flags=(FlagKind.DOMESTIC_ABUSE,))
    assert len(hits_for(session, "marac_escalation", person_ids=[victim.id])) == 1
    assert hits_for(session, "marac_escalation", config=config, person_ids=[victim.id]) == []


@pytest.mark.parametrize(("referred_at", "same", "expected"), [
    (TWELVE_MONTHS + DAY, True, 1),  # just inside twelve months of the referral
    (TWELVE_MONTHS - DAY, True, 0),  # just outside
    (NOW - 30 * DAY, False, 0),  # another perpetrator: not a repeat of that referral
])
def test_marac_repeat(session, frozen_clock, owner, referred_at, same, expected):
    victim, abuser = person(session), person(session)
    report(session, frozen_clock, referred_at, owner, victim=victim, perpetrator=abuser,
           case_type="marac")
    new = report(session, frozen_clock, NOW, owner, victim=victim,
                 perpetrator=abuser if same else person(session),
                 flags=(FlagKind.DOMESTIC_ABUSE,))
    hits = hits_for(session, "marac_repeat", person_ids=[victim.id], trigger=new.id)
    assert [h.case_id for h in hits] == [new.id] * expected


def test_marac_repeat_without_the_same_perpetrator_rule(session, frozen_clock, owner):
    config = detector_config.load_text(
        "detectors:\n  marac_repeat:\n    same_perpetrator: false\n")
    victim = person(session)
    report(session, frozen_clock, NOW - 30 * DAY, owner, victim=victim, case_type="marac")
    new = report(session, frozen_clock, NOW, owner, victim=victim,
                 flags=(FlagKind.DOMESTIC_ABUSE,))
    assert hits_for(session, "marac_repeat", person_ids=[victim.id]) == []
    assert [h.case_id for h in hits_for(session, "marac_repeat", config=config,
                                        person_ids=[victim.id])] == [new.id]


def test_a_disabled_detector_finds_nothing(session, frozen_clock, owner):
    config = detector_config.load_text("detectors:\n  repeat_victim:\n    enabled: false\n")
    victim = person(session)
    for at in (NOW - 2 * DAY, NOW - DAY, NOW):
        report(session, frozen_clock, at, owner, victim=victim)
    assert hits_for(session, "repeat_victim", config=config, person_ids=[victim.id]) == []
    assert all(h.detector != "repeat_victim" for h in find_all(session, config, NOW))
