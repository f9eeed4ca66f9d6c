"""The app's routes, read from its url_map at collection time, so tests parametrized by route
cover a route the moment it is added (no hand-kept list)."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from werkzeug.routing import Rule

from casebridge.runtime import Runtime
from casebridge.settings import load_settings
from storage.documents.store import DocumentStore
from web.app import create_app

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@cache
def rules() -> tuple[Rule, ...]:
    """Every rule of an app built as `casebridge serve` builds it (no database is touched:
    the factory only wires blueprints)."""
    directory = Path(tempfile.mkdtemp(prefix="casebridge-routes-"))
    settings = load_settings(data_dir=directory, secret_key="routes-only")
    engine = create_engine("sqlite://")
    runtime = Runtime(settings=settings, engine=engine, sessions=sessionmaker(bind=engine),
                      documents=DocumentStore(directory / "documents"))
    app = create_app(runtime, testing=True)
    return tuple(sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)))


def endpoint_methods() -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every method of every rule."""
    return [(rule.endpoint, method, rule.rule) for rule in rules()
            for method in sorted((rule.methods or set()) - IGNORED_METHODS)]


def address(app, endpoint: str, rule: str, values: dict[str, object],
            query: dict[str, str] | None = None) -> str:
    """The URL of `rule` with its parameters taken from `values` (the fixture world's)."""
    from flask import url_for

    url_rule = next(r for r in rules() if r.endpoint == endpoint and r.rule == rule)
    missing = sorted(set(url_rule.arguments) - set(values))
    assert not missing, (f"{endpoint} ({rule}) has URL parameters {missing} with no value: "
                         "add them to World.url_values in tests/web/security/world.py")
    with app.test_request_context():
        return url_for(endpoint, **{name: values[name] for name in url_rule.arguments},
                       **(query or {}))
