import pytest
from click.testing import CliRunner

from casebridge.cli import main


@pytest.fixture
def run_cli(scratch_engine, tmp_path, monkeypatch):
    """Run `casebridge ...` against the scratch database, as a user would from a shell."""
    monkeypatch.setenv(
        "CASEBRIDGE_DATABASE_URL", scratch_engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("CASEBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None):
        return runner.invoke(main, list(args), input=stdin, catch_exceptions=False)

    return run
