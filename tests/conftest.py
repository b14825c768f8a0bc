"""Shared fixtures. Unit tests use the scripted fake backend (through the real backend registry);
tests marked `model` run the real embedded SmolLM2-135M-Instruct through gpt4all."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

from agents.backends.fake import FakeChatModel
from agents.backends.llamacpp_server import free_port  # noqa: F401 (for the tests)
from agents.models.profiles import ROLES, ModelSpec, Profile, RoleSpec
from agents.roles.team import Team
from agents.slot.slot import GpuSlot

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Every test writes conversations to its own data folder and never reads a user's config."""
    base = tmp_path_factory.mktemp("concilio")
    monkeypatch.setenv("CONCILIO_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("CONCILIO_RUNTIME_DIR", str(base / "run"))  # its own machine-wide guard
    monkeypatch.setenv("CONCILIO_CONFIG", str(base / "no-config.toml"))
    monkeypatch.setenv("CONCILIO_GPT4ALL_DIR", str(base / "no-gpt4all"))
    monkeypatch.delenv("CONCILIO_PROFILE", raising=False)
    # Tests ask the same questions on purpose (retries, resumes, races): they test the models' flow, so the
    # response cache is off unless a test turns it on (tests/unit/test_response_cache.py and its kin).
    monkeypatch.setenv("CONCILIO_CACHE", "off")
    monkeypatch.delenv("CONCILIO_DATABASE_URL", raising=False)
    FakeChatModel.reset()
    yield


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server started for this test session (tests/pg.py), stopped after. Skipped with the reason
    where none can run, unless CI requires it."""
    from evals import scratch_pg as pg

    why = pg.unavailable()
    if why:
        if pg.required():
            pytest.fail(f"PostgreSQL is required here (CI / CONCILIO_REQUIRE_POSTGRES=1): {why}")
        pytest.skip(why)
    server = pg.Server()
    try:
        server.start()
    except Exception as exc:
        server.stop()
        if pg.required():
            raise
        pytest.skip(f"PostgreSQL could not start here: {exc}")
    yield server
    server.stop()


@contextlib.contextmanager
def held_elsewhere(make):
    """`make()` (a context manager: a lock, a turn) entered by another thread and held for the block's length."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with make():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        thread.join(10)


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request, monkeypatch) -> str:
    """Run the test on each database concilio supports: SQLite files in the data folder, or a fresh database
    on the session's PostgreSQL server through CONCILIO_DATABASE_URL (threads, memories and the ledger)."""
    if request.param == "postgres":
        server = request.getfixturevalue("postgres")
        monkeypatch.setenv("CONCILIO_DATABASE_URL", server.create_database())
    return request.param


def fake_spec(name: str, **options) -> ModelSpec:
    return ModelSpec(name=name, path=Path(f"/nonexistent/{name}.gguf"), backend="fake",
                     options=tuple(sorted(options.items())))


def fake_profile(per_role: dict[str, ModelSpec] | None = None, **options) -> Profile:
    """A profile with one distinct fake model per role (so every role change is a swap)."""
    per_role = per_role or {}
    return Profile("fake", tuple(RoleSpec(r, per_role.get(r) or fake_spec(f"fake-{r}", **options)) for r in ROLES))


@pytest.fixture
def fake_team() -> Team:
    return Team(fake_profile(), GpuSlot())


@contextlib.contextmanager
def held_by_another_thread(slot: GpuSlot, spec: ModelSpec):
    """Another thread holds `slot` with `spec` loaded until the block ends; yields an Event that releases it
    early (e.g. from a timer)."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with slot.hold(spec):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join()


def fake_config_toml(path: Path, replies: dict[str, str], *, context_window: int | None = None,
                     **role_options: str) -> str:
    """A TOML profile putting every role on its own fake model: `replies[role]` is what it says,
    `role_options[role]` extra inline options (e.g. "tokens_per_second = 4")."""
    lines = []
    for role in ROLES:
        extra = f", {role_options[role]}" if role in role_options else ""
        lines += [f"[roles.{role}]", 'backend = "fake"', f'path = "fake-{role}.gguf"',
                  *([f"context_window = {context_window}"] if context_window else []),
                  f'options = {{ reply = "{replies[role]}"{extra} }}']
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return str(path)


def run_threads(worker, count: int, timeout: float = 300) -> list[BaseException]:
    """Run `worker(n)` in `count` threads at once; the exceptions they raised (none, when all went well)."""
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            worker(n)
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors
