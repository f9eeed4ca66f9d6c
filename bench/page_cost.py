"""CPU per request: what each page costs Casebridge's own process, single-threaded, beside
the floor (a bare Flask endpoint reading one row) measured the same way in the same process.

Under saturation a page's latency is proportional to the CPU it needs per request, so this
is the figure to move for issue 4's target (each page's p95 under load at most 3 times the
floor's; `bench web` measures that directly). Single-threaded through the Flask test client
against PostgreSQL, so it is steady on a busy machine and cheap to run while changing code.

A fresh database with `casebridge demo generate --cases N` (or --page-cost-url, an existing
migrated database with demo data, which gains the fresh cases below), then, signed in as the
police practitioner:
- task inbox: `/`;
- case page: `/cases/<reference>`, cycling through 50 of the police force's cases;
- stage submission: the report and risk screening form POSTed to a fresh case each time
  (opened through storage.cases.workflow.open_case), answered with the redirect;
- the health check and the partnership overview, for reference.
Each figure is the mean CPU milliseconds (time.process_time) per request, with the SQL
statements per request beside it.
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyotp
from flask import Flask, jsonify
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, text

from bench.database import scratch_database
from bench.harness import Result, progress
from bench.web import ACCOUNT, REPORT_ANSWERS, _fixtures, _populate, _totp_secret
from casebridge.demo import DEMO_PASSWORD
from casebridge.runtime import build_runtime
from casebridge.settings import load_settings
from web.app import create_app

CASE_PAGES = 50
WARMUP = 20
TARGET_RATIO = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--page-cost-cases", type=int, default=10_000,
                        help="demo cases in the scratch database (default 10,000)")
    parser.add_argument("--page-cost-requests", type=int, default=300,
                        help="timed requests per page (default 300)")
    parser.add_argument("--page-cost-submissions", type=int, default=200,
                        help="timed stage submissions, each to a fresh case (default 200)")
    parser.add_argument("--page-cost-url", default=None, metavar="URL",
                        help="measure an existing migrated database with demo data instead "
                             "of generating a scratch one (it gains the fresh cases)")


@dataclass
class Cost:
    cpu_ms: float  # mean CPU milliseconds per request
    cpu_p50_ms: float
    wall_ms: float  # mean wall-clock milliseconds per request
    statements: float  # SQL statements per request


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        self.count += 1


def run(options: argparse.Namespace) -> Iterator[Result]:
    if options.page_cost_url:
        yield from _measure(options.page_cost_url, options)
        return
    with scratch_database("pagecost") as url:
        seconds = _populate(url, options.page_cost_cases)
        progress(f"generated {options.page_cost_cases:,} cases in {seconds:.0f} s")
        yield from _measure(url, options)


def _measure(url: str, options: argparse.Namespace) -> Iterator[Result]:
    requests = options.page_cost_requests
    fixtures = _fixtures(url, options.page_cost_submissions + WARMUP)
    step = max(1, len(fixtures.case_references) // CASE_PAGES)
    references = fixtures.case_references[::step][:CASE_PAGES]
    with _app(url) as (app, counter):
        floor_client = _floor_app(app.extensions["casebridge.runtime"].engine).test_client()
        anonymous = app.test_client()
        client = app.test_client()
        response = client.post("/sign-in", data={"email": ACCOUNT, "password": DEMO_PASSWORD})
        if response.status_code == 302 and response.location.endswith("/sign-in/code"):
            secret = _totp_secret(url)  # the demo account's, as `casebridge demo code` gives
            response = client.post("/sign-in/code",
                                   data={"code": pyotp.TOTP(secret or "").now()})
        if response.status_code != 302 or "/sign-in" in response.location:
            raise RuntimeError(f"could not sign in as {ACCOUNT}")

        def get(c: FlaskClient, path: Callable[[int], str]) -> Callable[[int], None]:
            def one(n: int) -> None:
                _expect(c.get(path(n)), 200)
            return one

        def submit(n: int) -> None:
            path, version = fixtures.stage_forms[n]
            response = client.post(path, data={**REPORT_ANSWERS, "version": str(version)})
            _expect(response, 302)
            if not response.location.startswith("/cases/"):
                raise RuntimeError(f"{path} redirected to {response.location}, not the case")

        def read_flash(n: int) -> None:
            """A browser follows the redirect to the case page, which shows (and so removes)
            the "answers saved" message; without this the session cookie would grow by one
            message per submission and cost more to sign each time. Not timed."""
            with client.session_transaction() as flask_session:
                flask_session.pop("_flashes", None)

        progress(f"floor: {requests:,} requests")
        floor = _cost(get(floor_client, lambda n: "/floor"), requests, counter)
        pages: list[tuple[str, Callable[[int], None], int, Callable[[int], None] | None]]
        pages = [
            ("health check", get(anonymous, lambda n: "/healthz"), requests, None),
            ("task inbox", get(client, lambda n: "/"), requests, None),
            ("case page", get(client, lambda n: f"/cases/{references[n % len(references)]}"),
             requests, None),
            ("stage submission", submit, options.page_cost_submissions, read_flash),
            ("partnership overview", get(client, lambda n: "/overview"), requests, None),
        ]
        yield Result("floor CPU", floor.cpu_ms, "ms/request", "floor", floor.cpu_ms)
        for name, one, count, untimed in pages:
            progress(f"{name}: {count:,} requests")
            cost = _cost(one, count, counter, untimed)
            yield Result(f"{name} CPU", cost.cpu_ms, "ms/request", "floor CPU", floor.cpu_ms,
                         target=f"<= {TARGET_RATIO:g} x floor (issue 4, as p95 under load)")
            yield Result(f"{name} CPU p50", cost.cpu_p50_ms, "ms/request", "floor CPU p50",
                         floor.cpu_p50_ms)
            yield Result(f"{name} wall", cost.wall_ms, "ms/request", "floor wall",
                         floor.wall_ms)
            yield Result(f"{name} SQL", cost.statements, "statements/request", "floor SQL",
                         floor.statements)


def _cost(one: Callable[[int], None], count: int, counter: StatementCounter,
          untimed: Callable[[int], None] | None = None) -> Cost:
    """Warm up (templates compiled, caches filled), then time `count` requests one by one
    (`untimed` runs after each, outside the figures); the submissions' fixtures hold
    exactly WARMUP + count cases, each used once."""
    for n in range(WARMUP):
        one(count + n)
        if untimed:
            untimed(count + n)
    gc.collect()
    cpu_samples: list[float] = []
    wall_samples: list[float] = []
    statements = 0
    for n in range(count):
        before = counter.count
        wall_started, started = time.perf_counter(), time.process_time()
        one(n)
        cpu_samples.append((time.process_time() - started) * 1000)
        wall_samples.append((time.perf_counter() - wall_started) * 1000)
        statements += counter.count - before
        if untimed:
            untimed(n)
    return Cost(cpu_ms=sum(cpu_samples) / count, cpu_p50_ms=statistics.median(cpu_samples),
                wall_ms=sum(wall_samples) / count, statements=statements / count)


def _expect(response, status: int) -> None:  # type: ignore[no-untyped-def]
    if response.status_code != status:
        raise RuntimeError(f"{response.request.path} answered {response.status_code}, "
                           f"not {status}")


@contextmanager
def _app(url: str) -> Iterator[tuple[Flask, StatementCounter]]:
    """Casebridge as gunicorn serves it (web.wsgi), but in this process, CSRF switched off
    so the test client can post forms."""
    settings = load_settings(database_url=url, secret_key=secrets.token_hex(16),
                             data_dir=f"/tmp/casebridge-bench-{os.getpid()}")
    runtime = build_runtime(settings)
    try:
        app = create_app(runtime)
        app.config["WTF_CSRF_ENABLED"] = False
        yield app, StatementCounter(runtime.engine)
    finally:
        runtime.dispose()


def _floor_app(engine: Engine) -> Flask:
    """bench/floor_app.py on the same engine: a bare Flask endpoint reading one row."""
    floor = Flask("floor")

    @floor.get("/floor")
    def read_one():  # type: ignore[no-untyped-def]
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT id, name FROM agencies ORDER BY id LIMIT 1")).one()
        return jsonify(id=row.id, name=row.name)

    return floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    options = parser.parse_args()
    for result in run(options):
        print(result.line(), flush=True)


if __name__ == "__main__":
    main()
