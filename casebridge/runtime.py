"""The process-wide pieces built from settings: one engine and one session factory."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from casebridge.settings import Settings
from storage import migrate
from storage.db import make_engine, make_session_factory
from storage.documents.store import DocumentStore


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    documents: DocumentStore

    schema_ok: bool = False

    def schema_problem(self) -> str | None:
        """Why the database cannot be used yet, in words a newcomer can act on.

        Once the schema is found current it stays so for this process (migrations run
        before a release starts, never under it), so health checks stop asking.
        """
        if self.schema_ok:
            return None
        current, head = migrate.current_revision(self.engine), migrate.head_revision()
        if current == head:
            self.schema_ok = True
            return None
        if current is None:
            return "The database has no tables yet: run `casebridge db upgrade`."
        return (
            f"The database is at migration {current} but this Casebridge needs {head}: "
            "run `casebridge db upgrade`."
        )

    def dispose(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.effective_database_url, echo=settings.sql_echo)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        documents=DocumentStore(settings.documents_dir),
    )
