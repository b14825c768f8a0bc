"""One turn at a time per thread: a lock file per (database, thread) in the data folder.

Two processes asking on one thread at once would both read turn N and both write turn N + 1, and one answer
would be lost. `turn_lock()` makes the second wait for the first (for up to CONCILIO_TURN_TIMEOUT seconds),
then read the thread as the first left it; past the timeout it is a `ThreadBusyError`, and nothing is lost.
Threads of one database, or one thread id in two databases, don't wait for each other.

On PostgreSQL (CONCILIO_DATABASE_URL) the lock is an advisory lock held by the session that writes the turn's
checkpoints (memory/postgres.py `locked_checkpointer`), so it holds across worker processes and hosts.
`turn_checkpointer()` picks the one that fits the database.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from agents.errors import ConcilioError
from agents.paths import data_dir
from agents.settings import settings
from memory.checkpoints import database, sqlite_checkpointer


class ThreadBusyError(ConcilioError):
    exit_code = 3

    def __init__(self, thread_id: str, waited: float) -> None:
        self.thread_id = thread_id
        super().__init__(f"thread {thread_id!r} is busy: another concilio has been answering on it for "
                         f"{waited:g} s. Try again when it finishes, or raise CONCILIO_TURN_TIMEOUT.")


def lock_path(db: object, thread_id: str) -> Path:
    """The lock file for `thread_id` in database `db` (its location as given, resolved when a path)."""
    where = str(db)
    if not where.startswith("file:"):
        where = str(Path(where).resolve())
    digest = hashlib.sha256(f"{where}\0{thread_id}".encode()).hexdigest()[:20]
    return data_dir() / "turns" / f"{digest}.lock"


@contextlib.contextmanager
def turn_lock(db: object, thread_id: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the turn of `thread_id` in `db` for the block; `ThreadBusyError` after `timeout` seconds
    (default: CONCILIO_TURN_TIMEOUT)."""
    waited = settings().turn_timeout if timeout is None else timeout
    path = lock_path(db, thread_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(path), timeout=waited):
            yield
    except Timeout:
        raise ThreadBusyError(thread_id, waited) from None


@contextlib.contextmanager
def turn_checkpointer(db: object, key: str, timeout: float | None = None) -> Iterator:
    """The checkpointer of `database(db)`, holding the turn of thread `key` (its storage key) for the block."""
    from memory import postgres

    waited = settings().turn_timeout if timeout is None else timeout
    where = database(db)  # type: ignore[arg-type]
    if postgres.is_postgres(where):
        with postgres.locked_checkpointer(str(where), key, waited) as saver:
            yield saver
    else:
        with turn_lock(where, key, waited), sqlite_checkpointer(where) as saver:
            yield saver
