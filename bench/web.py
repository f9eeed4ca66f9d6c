"""Web latency under load: p50/p95 of Casebridge pages with 20 concurrent signed-in clients
against gunicorn + PostgreSQL, each against the floor (a bare Flask endpoint reading one row)
served the same way in the same run. Targets: every page's p95 at most 3 times the floor's;
the case page's p95 grows at most 30% from the smallest to the largest partnership; the
generator writes 1,000,000 cases in under 10 minutes.

For each size in --web-cases: a fresh database, `casebridge demo generate` (timed), fixtures
(a sample of the police account's cases; fresh ASB cases waiting in their first stage, one
per timed submission), then gunicorn serving the floor and Casebridge, and the pages:
- task inbox: `/`, the police practitioner's inbox (their items and their agency's queue);
- case page: `/cases/<reference>`, cycling through up to 1,000 of the police force's cases,
  open and closed;
- stage submission: a POST of the report and risk screening form (CSRF token, version,
  answers) to a different fresh case each time, answered with the redirect to the case;
- the health check and the partnership overview, for reference.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select

from bench.database import scratch_database
from bench.harness import Result, percentile, progress
from bench.load import Request, measure
from bench.signed_in import SignedIn, sign_in
from casebridge.demo import DEMO_PASSWORD
from storage.accounts.models import User
from storage.actors import Actor
from storage.cases.models import Case, StageStatus
from storage.cases.workflow import open_case
from storage.db import make_engine, make_session_factory, unit_of_work

CLIENTS = 20
WARMUP = 20
TARGET_RATIO = 3.0
GROWTH_TARGET = 1.3
GENERATOR_TARGET_SECONDS = 600.0
GENERATOR_TARGET_CASES = 1_000_000
CASE_SAMPLE = 1_000
ACCOUNT = "police@demo.casebridge.test"
# The report and risk screening form (forms/definitions/asb_report.yaml), standard risk.
REPORT_ANSWERS = {
    "incident_date-day": "3", "incident_date-month": "11", "incident_date-year": "2026",
    "description": "Loud music and shouting from the flat above most nights.",
    "category": "nuisance", "happened_before": "yes", "reported_elsewhere": "no",
    "feels_targeted": "no", "disability_or_illness": "no", "hate_motivated": "no",
    "impact_on_health": "yes", "fears_for_safety": "no",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web-cases", type=_sizes, default=[10_000, 1_000_000], metavar="N[,N...]",
        help="partnership sizes in demo cases, smallest first (default 10000,1000000: the "
             "case page's growth and the generator's time are measured between them)")
    parser.add_argument("--web-requests", type=int, default=2_000,
                        help="timed requests per page (default 2,000)")
    parser.add_argument("--web-submissions", type=int, default=500,
                        help="timed stage submissions, each to a fresh case (default 500)")


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not sizes or any(n < 100 for n in sizes):
        raise argparse.ArgumentTypeError("each size must be at least 100 cases")
    return sorted(set(sizes))


@dataclass
class Fixtures:
    case_references: list[str]
    stage_forms: list[tuple[str, int]]  # (stage form path, case version) per submission


def run(options: argparse.Namespace) -> Iterator[Result]:
    """Each size's figures as soon as they are measured: a failure at 1,000,000 cases
    does not lose those of 10,000."""
    case_page_p95: dict[int, float] = {}
    generator_seconds: dict[int, float] = {}
    for size in options.web_cases:
        with scratch_database(f"web{size}") as url:
            generator_seconds[size] = _populate(url, size)
            progress(f"generated {size:,} cases in {generator_seconds[size]:.0f} s")
            fixtures = _fixtures(url, options.web_submissions + WARMUP)
            size_results, case_page_p95[size] = _measure_pages(url, size, fixtures, options)
            yield from size_results
    smallest, largest = min(options.web_cases), max(options.web_cases)
    if largest > smallest:
        growth = case_page_p95[largest] / case_page_p95[smallest]
        yield Result(
            f"case page p95 at {largest:,} cases", case_page_p95[largest], "ms",
            f"at {smallest:,} cases", case_page_p95[smallest],
            target=f"<= {GROWTH_TARGET:g} x", passed=growth <= GROWTH_TARGET)
        scaled = generator_seconds[smallest] * largest / smallest
        within = None
        if largest >= GENERATOR_TARGET_CASES:
            within = generator_seconds[largest] <= GENERATOR_TARGET_SECONDS
        yield Result(
            f"demo generate {largest:,} cases", generator_seconds[largest], "s",
            f"{smallest:,} cases x {largest // smallest:,}", scaled,
            target=f"< {GENERATOR_TARGET_SECONDS:g} s for {GENERATOR_TARGET_CASES:,}",
            passed=within)


def _populate(url: str, size: int) -> float:
    """Migrate and generate `size` demo cases through the CLI; the generator's seconds."""
    env = _environment(url)
    casebridge = os.path.join(os.path.dirname(sys.executable), "casebridge")
    subprocess.run([casebridge, "db", "upgrade"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    progress(f"generating {size:,} demo cases")
    started = time.perf_counter()
    subprocess.run([casebridge, "demo", "generate", "--cases", str(size)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _fixtures(url: str, submissions: int) -> Fixtures:
    """The police account's case sample, and `submissions` fresh cases opened through the
    services, each waiting for its report and risk screening."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        with unit_of_work(sessions) as session:
            officer = session.scalars(select(User).where(User.email == ACCOUNT)).one()
            total = session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) or 0
            step = max(1, total // (CASE_SAMPLE * 4))  # evenly spread over the years
            references = list(session.scalars(
                select(Case.reference).where(Case.owning_agency_id == officer.agency_id,
                                             Case.id % step == 0)
                .order_by(Case.id).limit(CASE_SAMPLE)))
        progress(f"opening {submissions:,} fresh cases for the stage submissions")
        forms: list[tuple[str, int]] = []
        with unit_of_work(sessions) as session:
            officer = session.scalars(select(User).where(User.email == ACCOUNT)).one()
            actor = Actor.for_user(officer, ip_address="127.0.0.1")
            for n in range(submissions):
                case = open_case(session, actor, case_type="asb",
                                 title=f"Benchmark case {n + 1}: noise from the flat above",
                                 owning_agency_id=officer.agency_id,
                                 lead_officer_id=officer.id)
                session.flush()
                stage = next(s for s in case.active_stages
                             if s.status is not StageStatus.COMPLETED)
                forms.append((f"/cases/{case.reference}/stages/{stage.id}", case.version))
    finally:
        engine.dispose()
    return Fixtures(case_references=references, stage_forms=forms)


def _totp_secret(url: str) -> str | None:
    """The benchmark account's two-factor secret, from the database, as its phone has it."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(User.totp_secret).where(User.email == ACCOUNT))
    finally:
        engine.dispose()


def _measure_pages(url: str, size: int, fixtures: Fixtures, options: argparse.Namespace
                   ) -> tuple[list[Result], float]:
    env = _environment(url)
    requests = options.web_requests
    results: list[Result] = []
    with _gunicorn("bench.floor_app:app", env) as floor_url, \
            _gunicorn("web.wsgi:app", env) as app_url:
        progress(f"floor: {requests:,} requests, {CLIENTS} clients")
        floor = measure(floor_url, partial(_get, "/floor", None), clients=CLIENTS,
                        requests=requests, warmup=WARMUP)
        floor_p50, floor_p95 = percentile(floor, 50), percentile(floor, 95)
        progress(f"signing in as {ACCOUNT} for {CLIENTS} clients")
        # One sign-in shared by the clients: the account has two-factor, and a code is
        # accepted once (the session lives in its signed cookie, so sharing it costs the
        # server nothing more than separate sessions would).
        signed_in = [sign_in(app_url, ACCOUNT, DEMO_PASSWORD,
                             totp_secret=_totp_secret(url))] * CLIENTS
        pages: list[tuple[str, Callable[[int], Request], int]] = [
            ("health check", partial(_get, "/healthz", None), requests),
            ("task inbox", partial(_get, "/", signed_in), requests),
            ("case page", partial(_case_page, fixtures.case_references, signed_in), requests),
            ("stage submission", partial(_submission, fixtures.stage_forms, signed_in),
             len(fixtures.stage_forms) - WARMUP),
            ("partnership overview", partial(_get, "/overview", signed_in), requests),
        ]
        case_page_p95 = 0.0
        for name, make_request, count in pages:
            progress(f"{name}: {count:,} requests, {CLIENTS} clients")
            samples = measure(app_url, make_request, clients=CLIENTS, requests=count,
                              warmup=WARMUP)
            p95 = percentile(samples, 95)
            if name == "case page":
                case_page_p95 = p95
            label = f"{name} ({size:,} cases)"
            results.append(Result(f"{label} p50", percentile(samples, 50), "ms",
                                  "floor p50", floor_p50))
            results.append(Result(f"{label} p95", p95, "ms", "floor p95", floor_p95,
                                  target=f"<= {TARGET_RATIO:g} x floor",
                                  passed=p95 <= TARGET_RATIO * floor_p95))
    return results, case_page_p95


# --- requests: module-level functions so the load generator's process can unpickle them ---

def _cookie(signed_in: list[SignedIn] | None, n: int) -> dict[str, str]:
    return {"Cookie": signed_in[n % len(signed_in)].cookie} if signed_in else {}


def _get(path: str, signed_in: list[SignedIn] | None, n: int) -> Request:
    return Request("GET", path, headers=_cookie(signed_in, n))


def _case_page(references: list[str], signed_in: list[SignedIn], n: int) -> Request:
    return Request("GET", f"/cases/{references[n % len(references)]}",
                   headers=_cookie(signed_in, n))


def _submission(forms: list[tuple[str, int]], signed_in: list[SignedIn], n: int) -> Request:
    """Each submission completes a different case's first stage (n never repeats)."""
    path, version = forms[n]
    session = signed_in[n % len(signed_in)]
    body = urllib.parse.urlencode({**REPORT_ANSWERS, "version": str(version),
                                   "csrf_token": session.csrf_token}).encode()
    return Request("POST", path, body=body, headers={
        "Cookie": session.cookie, "Content-Type": "application/x-www-form-urlencoded"})


# --- servers ---------------------------------------------------------------------------------

def _environment(url: str) -> dict[str, str]:
    return {**os.environ, "CASEBRIDGE_DATABASE_URL": url,
            "CASEBRIDGE_DATA_DIR": f"/tmp/casebridge-bench-{os.getpid()}",
            "CASEBRIDGE_SECRET_KEY": "bench-only-secret"}


@contextmanager
def _gunicorn(app: str, env: dict[str, str]) -> Iterator[str]:
    """gunicorn on a free loopback port with the deploy settings: 2 workers x 8 threads."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    process = subprocess.Popen(
        [gunicorn, "--workers", "2", "--worker-class", "gthread", "--threads", "8",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app],
        env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url + ("/floor" if "floor" in app else "/healthz"), process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback only)
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within 60 s")
