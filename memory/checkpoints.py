"""Checkpointer factories: one SQLite file in the user's data folder keeps every thread.

`langgraph dev` brings its own persistence, so the exported graph has none; code, the CLI and
notebooks open one here and pass it to `build_graph(checkpointer=...)`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from agents.errors import ConcilioError
from agents.paths import data_dir

DB_NAME = "threads.sqlite"


def default_db_path() -> Path:
    return data_dir() / DB_NAME


@contextlib.contextmanager
def sqlite_checkpointer(path: str | Path | None = None) -> Iterator:
    """A `SqliteSaver` on `path` (default: the data folder's threads.sqlite), WAL mode, closed on exit."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    db = Path(path) if path is not None else default_db_path()
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(db), check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        saver = SqliteSaver(conn)
        saver.setup()
    except (OSError, sqlite3.Error) as exc:
        raise ConcilioError(f"can't open the conversation database {db}: {exc}. "
                            "Check the folder's permissions, or set CONCILIO_DATA_DIR.") from exc
    try:
        yield saver
    finally:
        conn.close()
