"""A scratch PostgreSQL server for the tests and evals/bench_workers.py, from the project's own files: `initdb` in a
scratch folder, `postgres` on loopback on a free port (its socket in the same folder), stopped and removed after.

PostgreSQL refuses to run as root; as root the server runs as the `postgres` user (Debian's package makes it),
else as `nobody`, on a folder it owns. Where no PostgreSQL is installed, `unavailable()` says why; CI (CI set,
or CONCILIO_REQUIRE_POSTGRES=1, as .ci/run exports) treats that as a failure, a local run as a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

USER = "concilio"  # the database superuser initdb makes (trust auth, loopback only)


def binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def required() -> bool:
    from agents.settings import settings

    return bool(os.environ.get("CI")) or settings().require_postgres


def unavailable() -> str | None:
    """Why no test server can start here, or None."""
    if binary("initdb") is None or binary("pg_ctl") is None:
        return "PostgreSQL is not installed (no initdb/pg_ctl; Debian: apt-get install postgresql)"
    if os.geteuid() == 0 and _runner() is None:
        return "running as root without a `postgres` or `nobody` user to run the server as"
    return None


def _runner() -> str | None:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One scratch PostgreSQL cluster: `start()`, `url(db)`, `create_database()`, `restart()`, `stop()`."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="concilio-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user = _runner() if os.geteuid() == 0 else None
        if self.as_user:
            entry = pwd.getpwnam(self.as_user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [*(["runuser", "-u", self.as_user, "--"] if self.as_user else []), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done

    def start(self) -> Server:
        if not self.data.exists():
            self._run(binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8",
                      "--no-sync", "--no-instructions")
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=200 "
                   "-c full_page_writes=off -c synchronous_commit=on")
        self._run(binary("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60",
                  "-o", options, "start")
        return self

    def restart(self) -> None:
        """Stop (fast: open sessions are cut off, as in a crash of the clients' view) and start again."""
        self._run(binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.start()

    def stop(self) -> None:
        try:
            self._run(binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass  # never started, or already gone
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = name or "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
