"""The one settings object: every CONCILIO_* variable typed, validated once, named in its error."""

from __future__ import annotations

import pytest

from agents.errors import SettingsError
from agents.settings import Settings, settings, table


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("CONCILIO_MAX_QUESTION_CHARS", "abc", "CONCILIO_MAX_QUESTION_CHARS='abc'.*invalid literal"),
    ("CONCILIO_MAX_QUESTION_CHARS", "-1", "CONCILIO_MAX_QUESTION_CHARS='-1'.*greater than 0"),
    ("CONCILIO_DB_TIMEOUT", "abc", "CONCILIO_DB_TIMEOUT='abc'.*could not convert"),
    ("CONCILIO_LEDGER_TIMEOUT", "abc", "CONCILIO_LEDGER_TIMEOUT='abc'"),
    ("CONCILIO_SLOT_BUDGET", "lots", "CONCILIO_SLOT_BUDGET='lots'.*slot budget 'lots'"),
    ("CONCILIO_SLOT_POLICY", "random", "unknown scheduling policy 'random'"),
    ("CONCILIO_PREFETCH", "maybe", "CONCILIO_PREFETCH='maybe'"),
    ("CONCILIO_KEEP_ALIVE", "-5", "CONCILIO_KEEP_ALIVE='-5'"),
])
def test_a_wrong_setting_is_refused_with_its_variable_name(monkeypatch, variable, value, says):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=says):
        settings()


@pytest.mark.parametrize(("variable", "value", "field", "expected"), [
    ("CONCILIO_SLOT_PIN", "orchestrator, reviewer", "slot_pin", ("orchestrator", "reviewer")),
    ("CONCILIO_SLOT_PIN", "", "slot_pin", ()),
    ("CONCILIO_PREFETCH", "0", "prefetch", False),
    ("CONCILIO_PROFILE", "  ", "profile", None),
    ("CONCILIO_MAX_QUESTION_CHARS", "100", "max_question_chars", 100),
    ("CONCILIO_SLOT_BUDGET", "6GB", "slot_budget", "6GB"),
])
def test_values_are_parsed_into_their_types(monkeypatch, variable, value, field, expected):
    monkeypatch.setenv(variable, value)
    assert getattr(settings(), field) == expected


def test_the_object_follows_the_environment_and_is_reused_while_it_does_not_change(monkeypatch):
    monkeypatch.setenv("CONCILIO_SLOT_TIMEOUT", "7")
    first = settings()
    assert first is settings() and first.slot_timeout == 7
    monkeypatch.setenv("CONCILIO_SLOT_TIMEOUT", "9")
    assert settings().slot_timeout == 9


def test_the_api_key_is_never_printed(monkeypatch):
    monkeypatch.setenv("CONCILIO_API_KEY", "s3cret")
    s = settings()
    assert s.api_key.get_secret_value() == "s3cret" and "s3cret" not in repr(s)


def test_every_field_is_documented_and_listed_in_the_readme():
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text("utf-8")
    assert {name for name, _, _ in table()} == {f"CONCILIO_{f.upper()}" for f in Settings.model_fields}
    for name, _, description in table():
        assert description, f"{name} has no description"
        assert f"`{name}`" in readme, f"{name} is missing from the README's settings table"
