"""Browser tests: real Chromium (Debian's package) driven by Playwright, against the real
app served by waitress on its own database, with CSRF and the CSP switched on."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import waitress

from casebridge.runtime import Runtime
from casebridge.settings import load_settings
from storage import migrate
from storage.actors import Actor
from storage.db import make_session_factory, unit_of_work
from storage.documents.store import DocumentStore
from storage.workflows.services import publish_shipped
from tests.conftest import empty_database
from web.app import create_app

CHROMIUM = os.environ.get("CASEBRIDGE_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parents[2] / "web" / "static" / "vendor" / "axe" / "axe.min.js"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
# As the machine notes advise: no background traffic to a network Chromium cannot reach.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return
    if config.getoption("--require-browser"):
        raise pytest.UsageError(f"--require-browser: no Chromium at {CHROMIUM}")
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (make test installs it as root)")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


@dataclass
class LiveServer:
    url: str
    runtime: Runtime


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("live")
    with empty_database(database_url, directory) as engine:
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        with unit_of_work(sessions) as session:
            publish_shipped(session, Actor.system("tests"))
        # Every test signs in from 127.0.0.1: the per-address sign-in limit is for attackers.
        settings = load_settings(data_dir=directory, secret_key="browser-test-secret",
                                 rate_limit_per_ip="10000 per minute")
        runtime = Runtime(settings=settings, engine=engine, sessions=sessions,
                          documents=DocumentStore(directory / "documents"))
        server = waitress.create_server(create_app(runtime), host="127.0.0.1", port=0,
                                        threads=4)
        closed = threading.Event()
        thread = threading.Thread(target=_serve, args=(server, closed), daemon=True)
        thread.start()
        try:
            yield LiveServer(f"http://127.0.0.1:{server.effective_port}", runtime)
        finally:
            closed.set()
            server.close()


def _serve(server: Any, closed: threading.Event) -> None:
    """The server's loop, which can still be inside select() when close() shuts its sockets
    (with a kept-alive connection in the map it goes round again): the OSError ("Bad file
    descriptor") it then raises means only that the server was closed, so it is let go."""
    try:
        server.run()
    except OSError:
        if not closed.is_set():
            raise


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    # bypass_csp only so the test can inject axe; the app's own pages still send the CSP.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()


def check_accessibility(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """axe-core on the page as it is: no serious or critical violations allowed."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("""async () => await axe.run(document, {
        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}
    })""")
    bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + json.dumps(
        [{"id": v["id"], "impact": v["impact"], "help": v["help"],
          "nodes": [n["target"] for n in v["nodes"][:3]]} for v in bad], indent=1)


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
