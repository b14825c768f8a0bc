"""Where the router comes from: training data shipped in agents/routing/data/, a fitted router cached per machine,
and the user's corrections in the data folder.

- The base router (fitted on the shipped data, threshold from out-of-fold predictions) is cached in the cache
  folder under a name that is the hash of its data, lexicon and code version: built once per machine.
- Corrections are appended to `<data>/routing/corrections.jsonl` (one JSON object a line, file-locked); the
  router in use is the base refitted with them, cached beside them under their hash.
- A router file that can't be read is rebuilt from the data, with a `RouterRebuiltWarning`.
- Only the router for the current corrections is kept: a refit replaces the previous file, it doesn't pile up.
- `refit_in_background()` fits it in a separate process (`python -m agents.routing.store refit`), so
  `concilio feedback` returns at once; a question asked meanwhile waits for that fit instead of redoing it.
- Fitting or waiting for a fit is announced as a `router` progress event (the first one takes a while).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import gzip
import hashlib
import json
import os
import pickle
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path

from filelock import FileLock, Timeout

from agents import paths, progress
from agents.routing.classifier import DOMAINS, Example, Router, build, correction

VERSION = 2  # bump when features or model change: cached routers are then rebuilt
TRAINING_FILES = ("dev.jsonl.gz", "es_train_legal.jsonl", "es_train_other.jsonl", "es_train_more.jsonl",
                  "seed.jsonl", "synthetic_legal.jsonl", "synthetic_technical.jsonl", "synthetic_general.jsonl")
_lock = threading.Lock()
_current: dict[tuple, Router] = {}


class RouterRebuiltWarning(UserWarning):
    pass


def _data(name: str):
    return resources.files("agents.routing").joinpath("data", name)


def _read_jsonl(raw: bytes) -> list[dict]:
    return [json.loads(line) for line in raw.decode("utf-8").split("\n") if line.strip()]


@cache
def training_rows() -> tuple[dict, ...]:
    """The shipped training rows (read once a process: package data doesn't change under it)."""
    rows = []
    for name in TRAINING_FILES:
        raw = _data(name).read_bytes()
        rows += _read_jsonl(gzip.decompress(raw) if name.endswith(".gz") else raw)
    return tuple(rows)


def training_examples(exclude: set[str] = frozenset()) -> list[Example]:
    """The shipped examples, without those whose id or source id is in `exclude` (for honest evaluation)."""
    return [Example(r["text"], r["domain"], id=r["id"]) for r in training_rows()
            if r["id"] not in exclude and r.get("source_id") not in exclude]


@cache
def fingerprint() -> str:
    """Hash of the shipped data, lexicon, code version and sklearn version: names the cached base router.
    Computed once a process; `current()` needs it on every question."""
    import sklearn

    digest = hashlib.sha256(f"{VERSION}:{sklearn.__version__}".encode())
    for name in (*TRAINING_FILES, "lexicon.json"):
        digest.update(_data(name).read_bytes())
    return digest.hexdigest()[:16]


def routing_dir() -> Path:
    return paths.data_dir() / "routing"


def corrections_path() -> Path:
    return routing_dir() / "corrections.jsonl"


def add_correction(example: Example, *, note: str = "") -> None:
    """Append one correction (file-locked, so concurrent processes don't interleave lines)."""
    path = corrections_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"text": example.text, "domain": example.domain, "source": example.source, "avoid": example.avoid,
              "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "note": note}
    with FileLock(str(path) + ".lock"), path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_corrections(path: Path | None = None) -> list[Example]:
    """The stored corrections, oldest first; unreadable lines are skipped with a warning."""
    path = path or corrections_path()
    if not path.exists():
        return []
    examples, bad = [], 0
    for line in path.read_text("utf-8", errors="replace").split("\n"):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            examples.append(correction(str(item["text"]), item["domain"], item["source"],
                                       avoid=bool(item.get("avoid"))))
        except (ValueError, KeyError, TypeError):
            bad += 1
    if bad:
        warnings.warn(f"{path}: skipped {bad} unreadable correction line(s)", RouterRebuiltWarning, stacklevel=2)
    return examples


def _load(path: Path) -> Router | None:
    if not path.exists():
        return None
    try:
        with path.open("rb") as file:
            router = pickle.load(file)
        if not isinstance(router, Router):
            raise TypeError(f"holds a {type(router).__name__}")
        router.decide("ok")  # a router that can't answer is as broken as one that can't load
        return router
    except Exception as exc:  # noqa: BLE001 - any unreadable cache is rebuilt, never fatal
        warnings.warn(f"router file {path} is unreadable ({type(exc).__name__}: {exc}); rebuilding it from "
                      "the training data", RouterRebuiltWarning, stacklevel=3)
        return None


def _save(router: Router, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as file:
        pickle.dump(router, file, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def _cached(path: Path, make, what: str) -> Router:
    lock = FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:  # another process is fitting this very router: wait for its file rather than refit
        progress.emit("router", message=f"waiting for {what}, being fitted by another process…")
        lock.acquire()
    try:
        router = _load(path)
        if router is None:
            progress.emit("router", message=f"{what}…")
            router = make()
            _save(router, path)
        return router
    finally:
        lock.release()


def _prune(keep: Path) -> None:
    """Remove the routers fitted for earlier corrections (each is ~5 MB); one being fitted right now is left."""
    for old in keep.parent.glob("router-*.pkl"):
        if old == keep:
            continue
        lock = FileLock(str(old) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        try:
            old.unlink(missing_ok=True)
        finally:
            lock.release()
        Path(str(old) + ".lock").unlink(missing_ok=True)


def base_path() -> Path:
    return paths.cache_dir() / "router" / f"base-{fingerprint()}.pkl"


def vectors_path() -> Path:
    return paths.cache_dir() / "router" / f"vectors-{fingerprint()}.npz"


def load_vectors() -> bool:
    """The training rows' sentence vectors from the cache file, into this process (a refit then needn't
    encode the training data again). False when there is no such file (or it can't be read)."""
    import numpy as np

    from agents.routing import semantic

    path = vectors_path()
    if not path.exists():
        return False
    try:
        with np.load(path, allow_pickle=False) as stored:
            semantic.preload_keys([str(k) for k in stored["keys"]], stored["vectors"])
        return True
    except (OSError, ValueError, KeyError) as exc:
        warnings.warn(f"{path} is unreadable ({exc}); the training rows will be encoded again",
                      RouterRebuiltWarning, stacklevel=2)
        return False


def _save_vectors() -> None:
    import numpy as np

    from agents.routing import semantic

    texts = [e.text for e in training_examples()]
    path = vectors_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, keys=np.array([semantic.key(t) for t in texts]), vectors=semantic.seen_vectors(texts))
    os.replace(tmp, path)


def base() -> Router:
    """The router fitted on the shipped data (built on first use: encoding the training rows takes a few
    minutes on 2 cores, once; then cached with their vectors)."""
    def make() -> Router:
        load_vectors()
        router = build(training_examples(), on_step=lambda i, n: progress.emit(
            "router", message=f"building the router (once, a few minutes): step {i} of {n}"))
        _save_vectors()
        return router

    return _cached(base_path(), make, "building the router from its training data (once on this machine)")


REFIT_EVERY = 10  # reviewer confirmations are folded in by a refit in batches of this many
EXPLICIT = ("good", "feedback", "override")


def refit_point(sources: list[str], every: int = REFIT_EVERY) -> int:
    """How many of the corrections (oldest first) the fitted model includes; the rest act through the
    similar-question memory only. Explicit ones (a person said so) are always fitted; reviewer confirmations
    are fitted in batches, so a run of confirmations doesn't cost a refit per question. Pure."""
    explicit = max((i + 1 for i, s in enumerate(sources) if s in EXPLICIT), default=0)
    return max(explicit, len(sources) - len(sources) % every)


_override: contextvars.ContextVar[Router | None] = contextvars.ContextVar("concilio_router", default=None)


@contextlib.contextmanager
def using(router: Router) -> Iterator[Router]:
    """Route with `router` inside the block (evaluations: one refitted without the rows they score). Per run
    (a ContextVar), so other runs of a long-lived process (a server) keep the router in use."""
    token = _override.set(router)
    try:
        yield router
    finally:
        _override.reset(token)


def current() -> Router:
    """The router in use: the base refitted with this data folder's corrections (see refit_point), the rest
    remembered. Cached in the process and on disk."""
    if _override.get() is not None:
        return _override.get()
    path = corrections_path()
    raw = path.read_bytes() if path.exists() else b""
    key = (str(base_path()), hashlib.sha256(raw).hexdigest()[:16])
    with _lock:
        if key in _current:
            return _current[key]
        router = base_router = base()
        corrections = read_corrections(path) if raw else []
        fitted = refit_point([c.source for c in corrections])
        if fitted:
            digest = hashlib.sha256(repr([(c.text, c.domain, c.source, c.avoid) for c in corrections[:fitted]])
                                    .encode()).hexdigest()[:16]
            path = routing_dir() / f"router-{digest}.pkl"
            load_vectors()
            router = _cached(path, lambda: base_router.refit_on([*base_router.examples, *corrections[:fitted]]),
                             f"refitting the router with {fitted} correction(s)")
            _prune(path)
        if fitted < len(corrections):
            router = router.with_corrections(corrections[fitted:])
        _current.clear()
        _current[key] = router
        return router


def learn(text: str, domain: str, source: str, *, avoid: bool = False, note: str = "") -> Example:
    """Store a correction; the next `current()` includes it."""
    example = correction(text, domain, source, avoid=avoid)
    add_correction(example, note=note)
    return example


def refit_in_background() -> subprocess.Popen:
    """Fit the router for the stored corrections in a separate process that outlives this one (off the user's
    path: `concilio feedback` returns while it fits). Its output goes to the cache folder's router/refit.log."""
    log_path = paths.cache_dir() / "router" / "refit.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "agents.routing.store", "refit"], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def main(argv: list[str]) -> int:
    if argv != ["refit"]:
        print("usage: python -m agents.routing.store refit", file=sys.stderr)
        return 2
    current()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

__all__ = ["DOMAINS", "RouterRebuiltWarning", "base", "current", "learn", "read_corrections", "training_examples"]
