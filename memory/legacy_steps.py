"""The schema steps concilio recorded before it used Alembic (ledger) and `PRAGMA user_version` (threads file).

Both once wrote their step names to one table, `concilio_migrations`; on a shared file each took the other's
rows for those of a newer concilio. Now each side reads the table once, takes its own rows as applied, leaves
the other side's alone, refuses a name nobody knows, and removes its rows (the table goes with the last).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

TABLE = "concilio_migrations"
THREADS = ("0001_baseline",)  # memory/checkpoints.py, in order
LEDGER = ("0001_tables",)  # memory/ledger/, in order
KNOWN = THREADS + LEDGER

Run = Callable[[str], Sequence[tuple]]  # runs one SQL statement, returns its rows


@dataclass(frozen=True)
class Verdict:
    applied: tuple[str, ...]  # this side's steps the old mechanism applied
    unknown: tuple[str, ...]  # names no version of concilio that used the table knows: a newer one's


def verdict(found: Sequence[str], mine: Sequence[str]) -> Verdict:
    """What the legacy rows `found` mean to the side whose steps are `mine`. Pure."""
    return Verdict(tuple(n for n in mine if n in found), tuple(sorted(set(found) - set(KNOWN))))


def read(run: Run, exists: bool) -> list[str]:
    """The step names in the legacy table ([] when it doesn't `exists`)."""
    return [row[0] for row in run(f"SELECT name FROM {TABLE}")] if exists else []


def forget(run: Run, exists: bool, mine: Sequence[str]) -> None:
    """Remove this side's rows; drop the table once it is empty. Call inside the caller's transaction."""
    if not exists:
        return
    names = ", ".join(f"'{n}'" for n in mine)
    run(f"DELETE FROM {TABLE} WHERE name IN ({names})")
    if not run(f"SELECT name FROM {TABLE}"):
        run(f"DROP TABLE {TABLE}")
