"""A PostgreSQL cluster of a test's own: `initdb` in a temporary directory, its own port and
socket directory, stopped and started again (cleanly or as a crash) by the test, and removed
at the end.

For tests that take the database server away. Never the machine's shared PostgreSQL: other
test runs use it. PostgreSQL refuses to run as root, so as root the cluster runs as the
`postgres` user (`runuser`), in a directory under /tmp that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.smtp_sink import free_port

OWNER_WHEN_ROOT = "postgres"


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    candidates = []
    if found := shutil.which("pg_ctl"):
        candidates.append(Path(found).resolve().parent)

    def version(path: Path) -> float:
        try:
            return float(path.parent.name)
        except ValueError:
            return 0.0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


class PrivateCluster:
    """Call `create()` then `start()`; `destroy()` always (it stops the server if need be)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # Short (the socket path must fit in 107 bytes) and reachable by the owner.
        self.directory = Path(tempfile.mkdtemp(prefix="cb-pg-", dir="/tmp"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = free_port()
        self.owner = OWNER_WHEN_ROOT if os.geteuid() == 0 else None
        if self.owner:
            account = pwd.getpwnam(self.owner)
            os.chown(self.directory, account.pw_uid, account.pw_gid)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create(self) -> None:
        # --no-sync: a scratch cluster need not survive a power cut; the server itself
        # keeps fsync on, so a crash of PostgreSQL is recovered as in production.
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C", "--no-sync")

    def start(self, timeout: int = 60) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w",
                  "-t", str(timeout), "start", new_session=True)

    def stop(self, mode: str = "fast", timeout: int = 60) -> None:
        """fast: what `systemctl restart postgresql` does (clients are disconnected, a
        checkpoint is written); immediate: a crash (recovery from the WAL at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(timeout), "stop")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def destroy(self) -> None:
        """Stop the server if it runs (as a crash: its data goes anyway), then remove it all."""
        try:
            if self.data.exists() and self.running():
                self.stop("immediate")
        except (RuntimeError, subprocess.SubprocessError):
            pid = self._postmaster_pid()
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGQUIT)  # the postmaster's own immediate shutdown
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _run(self, program: str, *args: str, check: bool = True,
             new_session: bool = False) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / program), *args]
        if self.owner:
            argv = ["runuser", "-u", self.owner, "--", *argv]
        result = subprocess.run(  # noqa: S603 - PostgreSQL's own programs, our arguments
            argv, capture_output=True, text=True, timeout=120, cwd=self.directory,
            start_new_session=new_session, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}\n{self.log_tail()}")
        return result
