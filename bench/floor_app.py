"""The floor: the cheapest useful page, a bare Flask endpoint that reads one row.

Served by the same gunicorn, workers and database as Casebridge, so a page's ratio to it
is what Casebridge itself adds.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify
from sqlalchemy import text

from storage.db import make_engine

engine = make_engine(os.environ["CASEBRIDGE_DATABASE_URL"])
app = Flask("floor")


@app.get("/floor")
def floor():  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        row = connection.execute(text("SELECT id, name FROM agencies ORDER BY id LIMIT 1")).one()
    return jsonify(id=row.id, name=row.name)
