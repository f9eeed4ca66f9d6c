"""Only one process per database runs the embedded schedule.

Several gunicorn workers, or a second `casebridge serve`, must not all sweep and dispatch
on the same timetable (the outbox would stay correct, but every run would be paid N times).
PostgreSQL: a session advisory lock, held on a connection of its own for as long as the
process runs the schedule; it is freed by the server when that process dies, however it
dies. SQLite: an fcntl lock on a file in data_dir, freed by the kernel in the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

# Any fixed 64-bit number other programs on the database are unlikely to use ("CBENGINE").
ADVISORY_KEY = 0x4342_454E_4749_4E45 & 0x7FFF_FFFF_FFFF_FFFF


class EngineLock:
    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.path = data_dir / "engine.lock"
        self._connection: Connection | None = None
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        """True if this process now runs the schedule; never waits."""
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                    {"key": ADVISORY_KEY})
            if got:
                self._connection = connection
            else:
                connection.close()
            return bool(got)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        """False if the database connection holding the lock was lost (a PostgreSQL restart
        frees it): the schedule should stop and compete for it again."""
        if self._connection is None:
            return self._file is not None
        try:
            self._connection.scalar(text("SELECT 1"))
        except Exception:
            self._forget_connection()
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            # A dead connection has freed it already.
            with contextlib.suppress(Exception):
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": ADVISORY_KEY})
            self._forget_connection()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def _forget_connection(self) -> None:
        assert self._connection is not None
        with contextlib.suppress(Exception):
            self._connection.invalidate()
            self._connection.close()
        self._connection = None
