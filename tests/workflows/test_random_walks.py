"""Property: whatever valid events arrive in whatever order, no shipped case type reaches an
invalid state (duplicate stages, a stuck open case, a closed case with open stages, a
deadline before its stage opened...), and every case type can be closed by its own stages."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows import interpreter as wf
from workflows.loader import shipped_definitions

from .walker import random_walk

DEFINITIONS = sorted(shipped_definitions().items())
IDS = [f"{k}-v{v}" for (k, v), _ in DEFINITIONS]


@pytest.mark.parametrize(("ident", "definition"), DEFINITIONS, ids=IDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), steps=st.integers(min_value=1, max_value=60))
def test_random_walks_never_reach_an_invalid_state(ident, definition, rng, steps):
    random_walk(definition, rng, steps=steps)


@pytest.mark.parametrize(("ident", "definition"), DEFINITIONS, ids=IDS)
def test_every_case_type_reaches_closure_by_its_own_stages(ident, definition):
    """Many seeded walks without manual closes: at least one must close through transitions."""
    closed_naturally = 0
    for seed in range(300):
        walk = random_walk(definition, random.Random(seed), steps=80)
        natural = not any(e.startswith(("Close(", "Override(")) for e in walk.log)
        if walk.state.status == wf.CLOSED and natural:
            closed_naturally += 1
    assert closed_naturally > 0
