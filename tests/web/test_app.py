import pytest

from casebridge import demo
from casebridge.runtime import Runtime
from casebridge.settings import load_settings
from storage.db import make_session_factory
from storage.documents.store import DocumentStore
from web.app import create_app


def _client(engine, tmp_path):
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key")
    runtime = Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine),
                      documents=DocumentStore(tmp_path / "documents"))
    app = create_app(runtime, testing=True)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


@pytest.fixture(autouse=True)
def no_casebridge_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))


def test_health_is_503_until_the_database_is_migrated(scratch_engine, tmp_path):
    response = _client(scratch_engine, tmp_path).get("/healthz")
    assert response.status_code == 503
    assert "casebridge db upgrade" in response.get_json()["problem"]


def test_overview_shows_totals_and_no_personal_details(migrated_scratch, tmp_path, frozen_clock):
    sessions = make_session_factory(migrated_scratch)
    demo.generate(sessions, cases=20, seed=5, now=frozen_clock.now())
    client = _client(migrated_scratch, tmp_path)
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.get("/overview").status_code == 302, "totals are for signed-in users"
    signed = client.post("/sign-in", data={"email": "manager@demo.casebridge.test",
                                           "password": demo.DEMO_PASSWORD})
    assert signed.headers["Location"] == "/sign-in/code", "demo accounts have two-factor"
    with sessions() as session:
        code = demo.demo_code(session, "manager@demo.casebridge.test")
    assert client.post("/sign-in/code", data={"code": code}).status_code == 302
    response = client.get("/overview")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Partnership overview" in page
    assert "Northshire Police" in page
    for family_name in demo.FAMILY:
        assert family_name not in page
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Request-Id"]
