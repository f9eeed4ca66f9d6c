"""The Prefect flow `dispatch_outbox`: a thin wrapper over `workflows.engine.dispatch`.

Only ids, kinds, a worker name and counts cross Prefect's boundary (parameters, task inputs,
results), and results are not persisted: Prefect's database never holds personal data.
One flow run drains many batches, because a flow run costs about a second of overhead.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from storage.outbox.models import EffectKind
from workflows.engine import dispatch, sweeps

_current: dispatch.Dispatcher | None = None


@contextmanager
def use_dispatcher(dispatcher: dispatch.Dispatcher) -> Iterator[dispatch.Dispatcher]:
    """Run the flows against this database and mail relay (the CLI and tests set it)."""
    global _current
    previous, _current = _current, dispatcher
    try:
        yield dispatcher
    finally:
        _current = previous


def current_dispatcher() -> dispatch.Dispatcher:
    """The one set by use_dispatcher, else one built from the settings (a Prefect worker)."""
    global _current
    if _current is None:
        from casebridge.runtime import build_runtime
        from casebridge.settings import get_settings

        runtime = build_runtime(get_settings())
        _current = dispatch.Dispatcher(runtime.sessions, runtime.settings)
    return _current


# Task retries cover the database or the process stumbling mid-batch; each row's own
# failures (relay down, refused) are retried by the outbox with back-off, not here.
TASK_OPTIONS = {"retries": 2, "retry_delay_seconds": [2, 10], "persist_result": False,
                "cache_policy": NO_CACHE}


@task(name="claim-outbox", **TASK_OPTIONS)
def claim_outbox(worker: str, batch_size: int) -> list[tuple[int, str]]:
    return [(c.id, c.kind.value) for c in
            dispatch.claim(current_dispatcher(), worker, batch_size)]


def run_effects(worker: str, ids: list[int]) -> dict[str, int]:
    return dispatch.run_effects(current_dispatcher(), worker, ids)


# One task per kind, named for what it does in Prefect's UI; every kind the dispatcher
# claims has one (a claimed kind without a task would stop the flow run).
EFFECT_TASKS = {
    kind: task(run_effects, name=name, **TASK_OPTIONS)
    for kind, name in ((EffectKind.EMAIL, "send-emails"),
                       (EffectKind.NOTIFY_AGENCY, "notify-agencies"),
                       (EffectKind.REFERRAL, "send-referrals"),
                       (EffectKind.WEBHOOK, "call-webhooks"),
                       (EffectKind.LETTER, "render-letters"))
}


@flow(name="dispatch_outbox", persist_result=False, validate_parameters=True)
def dispatch_outbox(batch_size: int = 100, max_batches: int = 50) -> dict[str, int]:
    """Claim due outbox rows in batches and run each kind as a task, until none are due
    (or max_batches, so one run cannot hog a worker for ever)."""
    logger = get_run_logger()
    worker = dispatch.new_worker_name()
    totals: Counter[str] = Counter()
    for _ in range(max_batches):
        claimed = claim_outbox(worker, batch_size)
        if not claimed:
            break
        totals["claimed"] += len(claimed)
        by_kind: dict[EffectKind, list[int]] = defaultdict(list)
        for message_id, kind in claimed:
            by_kind[EffectKind(kind)].append(message_id)
        futures = [EFFECT_TASKS[kind].submit(worker, ids) for kind, ids in by_kind.items()]
        for future in futures:
            totals.update(future.result())
    logger.info("outbox dispatch: %s", dict(sorted(totals.items())) or "nothing due")
    return dict(totals)


@task(name="escalate-deadlines", **TASK_OPTIONS)
def escalate_deadlines(batch_size: int) -> dict[str, int]:
    return sweeps.sweep_deadlines(current_dispatcher().sessions, batch_size=batch_size)


@flow(name="sweep_deadlines", persist_result=False, validate_parameters=True)
def sweep_deadlines(batch_size: int = 5000) -> dict[str, int]:
    """Record and queue the e-mail of every deadline warning and breach not yet escalated;
    the e-mails go with the next `dispatch_outbox`. Returns counts only."""
    totals = escalate_deadlines(batch_size)
    get_run_logger().info("deadline sweep: %s", dict(sorted(totals.items())) or "nothing due")
    return totals


@task(name="open-due-reviews", **TASK_OPTIONS)
def open_due_reviews(limit: int) -> dict[str, int]:
    return sweeps.scheduled_reviews(current_dispatcher().sessions, limit=limit)


@flow(name="scheduled_reviews", persist_result=False, validate_parameters=True)
def scheduled_reviews(limit: int = 10_000) -> dict[str, int]:
    """Open the recurring review stages that have fallen due. Returns counts only."""
    totals = open_due_reviews(limit)
    get_run_logger().info("scheduled reviews: %s", dict(sorted(totals.items())))
    return totals


@task(name="run-detectors", **TASK_OPTIONS)
def run_detectors() -> dict[str, int]:
    from rules import detectors

    dispatcher = current_dispatcher()
    return detectors.sweep(dispatcher.sessions, detectors.for_settings(dispatcher.settings))


@flow(name="sweep_detectors", persist_result=False, validate_parameters=True)
def sweep_detectors() -> dict[str, int]:
    """Record every detector hit (repeat victim, Case Review threshold, MARAC...) not yet
    recorded, with its flag and e-mail; one set-based query per detector, idempotent. The
    e-mails go with the next `dispatch_outbox`. Returns counts only."""
    totals = run_detectors()
    get_run_logger().info("detector sweep: %s", totals or "nothing new")
    return totals


@task(name="queue-digests", **TASK_OPTIONS)
def queue_digests() -> dict[str, int]:
    dispatcher = current_dispatcher()
    return sweeps.send_digests(dispatcher.sessions, dispatcher.settings.timezone)


@flow(name="send_digests", persist_result=False, validate_parameters=True)
def send_digests() -> dict[str, int]:
    """Queue the daily digests of minimum-standard escalations that are due (once a day per
    recipient, after the standards' digest hour); they go with the next dispatch."""
    totals = queue_digests()
    get_run_logger().info("escalation digests: %s", totals or "none due")
    return totals


@task(name="list-cases-due-for-retention-review", **TASK_OPTIONS)
def list_retention_due() -> dict[str, int]:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from casebridge import clock
    from rules import retention
    from storage.db import unit_of_work
    from storage.retention.services import sweep

    dispatcher = current_dispatcher()
    settings = dispatcher.settings
    schedule = retention.load(settings.retention_file or None)
    today = datetime.astimezone(clock.now(), ZoneInfo(settings.timezone)).date()
    with unit_of_work(dispatcher.sessions) as session:
        return sweep(session, schedule, today=today, timezone=settings.timezone)


@flow(name="sweep_retention", persist_result=False, validate_parameters=True)
def sweep_retention() -> dict[str, int]:
    """Put closed cases past their retention period on the review list. It never deletes:
    a manager or partnership administrator decides each one on /retention. Counts only."""
    totals = list_retention_due()
    get_run_logger().info("retention sweep: %s", totals)
    return totals
