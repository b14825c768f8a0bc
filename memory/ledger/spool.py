"""The ledger's side files, in the local data folder whatever the URL (named by its hash):
  <hash>.spool.jsonl       records waiting for the database, replayed oldest first before the next write
  <hash>.quarantine.jsonl  records that failed for a reason of their own: moved aside so they block nothing
  <hash>.failures.json     how many writes failed, and the last reason
Every change happens under one file lock, since several processes share them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from filelock import FileLock

from agents.paths import data_dir
from memory.ledger.schema import now

log = logging.getLogger("memory.ledger")


def side_path(url: str, suffix: str) -> Path:
    """Where a ledger's failure count, spool and quarantine live: the data folder, named by the URL's hash."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return data_dir() / "ledger" / f"{digest}.{suffix}"


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return 0


def failures(url: str) -> dict[str, Any]:
    """{"count", "last_error", "last_at", "spooled", "quarantined", "quarantine"} for the ledger at `url`."""
    info: dict[str, Any] = {"count": 0, "last_error": None, "last_at": None}
    try:
        info.update(json.loads(side_path(url, "failures.json").read_text("utf-8")))
    except (OSError, ValueError):
        pass
    quarantine = side_path(url, "quarantine.jsonl")
    info["spooled"] = _count_lines(side_path(url, "spool.jsonl"))
    info["quarantined"] = _count_lines(quarantine)
    info["quarantine"] = str(quarantine) if info["quarantined"] else None
    return info


@contextlib.contextmanager
def locked(url: str):
    path = side_path(url, "lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path), timeout=5):
        yield


def read(url: str) -> list[dict]:
    spool = side_path(url, "spool.jsonl")
    if not spool.exists():
        return []
    out = []
    for line in spool.read_text("utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            log.warning("ledger: unreadable spool line skipped")
    return out


def _lines(records: Iterable[dict]) -> list[str]:
    return [json.dumps(r, default=str) + "\n" for r in records]


def _count_failure(url: str, text: str) -> None:
    info = failures(url)
    info = {"count": int(info.get("count", 0)) + 1, "last_error": text, "last_at": now().isoformat()}
    side_path(url, "failures.json").write_text(json.dumps(info), "utf-8")


def keep(url: str, records: list[dict], text: str) -> None:
    """Count one failed write (reason `text`) and spool those of `records` not spooled yet."""
    spool = side_path(url, "spool.jsonl")
    with locked(url):
        spooled = {r.get("id") for r in read(url)}
        new = [r for r in records if r["id"] not in spooled]
        if new:
            with spool.open("a", encoding="utf-8") as fh:
                fh.writelines(_lines(new))
        _count_failure(url, text)


def quarantine(url: str, record: dict, text: str) -> None:
    """Move `record` out of the way (from the spool too), counted as a failed write with its reason."""
    with locked(url):
        with side_path(url, "quarantine.jsonl").open("a", encoding="utf-8") as fh:
            fh.writelines(_lines([{**record, "quarantined": {"at": now().isoformat(), "error": text}}]))
        _drop(url, {record["id"]})
        _count_failure(url, f"record {record.get('id')} quarantined: {text}")


def _drop(url: str, ids: set[str]) -> None:
    spool = side_path(url, "spool.jsonl")
    kept = [r for r in read(url) if r.get("id") not in ids]
    if kept:
        spool.write_text("".join(_lines(kept)), "utf-8")
    else:
        spool.unlink(missing_ok=True)


def unspool(url: str, written: set[str]) -> None:
    """Take the records now in the database out of the spool, under its lock (other processes append)."""
    if written and side_path(url, "spool.jsonl").exists():
        with locked(url):
            _drop(url, written)
