"""Liveness and readiness for load balancers and `casebridge serve` start-up checks."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from web.database import session

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    runtime = current_app.extensions["casebridge.runtime"]
    session().execute(text("SELECT 1"))
    problem = runtime.schema_problem()
    body = {
        "status": "ok" if problem is None else "degraded",
        "database": runtime.engine.dialect.name,
    }
    if problem:
        body["problem"] = problem
    return jsonify(body), 200 if problem is None else 503
