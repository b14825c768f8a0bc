"""Profiles: embedded by default, the seed's GPT4All set when its files are there, TOML overrides."""

from __future__ import annotations

import pytest

from agents.errors import ProfileError
from agents.models.profiles import ROLES, SEED, describe, file_state, resolve


def _seed_folder(tmp_path, monkeypatch, skip=(), content=None):
    """The seed's files (each just GGUF's signature), less those of `skip`; `content[role]` replaces one."""
    folder = tmp_path / "gpt4all"
    folder.mkdir()
    for role, (_, names, _, _) in SEED.items():
        if role not in skip:
            (folder / names[0]).write_bytes((content or {}).get(role, b"GGUF"))
    monkeypatch.setenv("CONCILIO_GPT4ALL_DIR", str(folder))
    return folder


def test_default_is_embedded_with_every_role_on_smollm2():
    profile = resolve(fetch=False)
    assert profile.name == "embedded" and profile.note == ""
    assert {r.role for r in profile.roles} == set(ROLES)
    assert {r.model.name for r in profile.roles} == {"SmolLM2-135M-Instruct"}
    assert len(profile.models()) == 1  # one file shared by four roles: one load
    assert profile.model_routing is False  # measured: the 135M model can't route (see evals/pipeline.py)


def test_seed_profile_is_chosen_automatically_when_all_files_are_present(tmp_path, monkeypatch):
    folder = _seed_folder(tmp_path, monkeypatch)
    profile = resolve(fetch=False)
    assert profile.name == "gpt4all-seed"
    assert profile.role("legal").model.path == folder / "Phi-3-mini-4k-instruct.Q4_0.gguf"
    assert profile.role("reviewer").model.chat_template == "llama3"
    assert len(profile.models()) == 4
    assert profile.model_routing is True
    assert {r.model.device for r in profile.roles} == {"auto"}  # a GPU when there is one, else the CPU


def test_a_partial_seed_set_falls_back_to_embedded_naming_what_is_missing(tmp_path, monkeypatch):
    _seed_folder(tmp_path, monkeypatch, skip=("technical",))
    profile = resolve(fetch=False)
    assert profile.name == "embedded"
    assert "technical (starcoder-newbpe-q4_0.gguf)" in profile.note


@pytest.mark.parametrize("content, state", [(b"", "empty"), (b"<html>404</html>", "not a GGUF file")])
def test_a_seed_file_that_is_empty_or_not_gguf_is_found_but_unusable_and_never_chosen(tmp_path, monkeypatch,
                                                                                     content, state):
    folder = _seed_folder(tmp_path, monkeypatch, content={"legal": content})
    profile = resolve(fetch=False)
    assert profile.name == "embedded"
    assert (f"found but unusable legal ({folder / 'Phi-3-mini-4k-instruct.Q4_0.gguf'}, {len(content):,} bytes: "
            f"{state})") in profile.note
    assert "404" not in profile.note
    with pytest.raises(ProfileError, match="found but unusable legal .*Fix|found but unusable legal .*GPT4All app"):
        resolve("gpt4all-seed")


@pytest.mark.parametrize("size, head, state", [
    (None, None, "missing"),
    (10, None, "unreadable"),
    (0, b"", "empty"),
    (4, b"GGUF", "ok"),
    (6, b"root", "not a GGUF file"),
    (3, b"GGU", "not a GGUF file"),
])
def test_file_state(size, head, state):
    assert file_state(size, head) == state


def test_concilio_models_lists_each_seed_file_and_its_state_when_some_are_missing(tmp_path, monkeypatch, capsys):
    from graphs.cli import main

    folder = _seed_folder(tmp_path, monkeypatch, skip=("reviewer",), content={"technical": b"hunter2:0"})
    assert main(["models", "--profile", "gpt4all-seed"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[2:6]}
    assert set(lines) == {"orchestrator", "legal", "technical", "reviewer"}
    assert " ok " in lines["orchestrator"] and " ok " in lines["legal"]
    assert "NOT A GGUF FILE" in lines["technical"] and "MISSING" in lines["reviewer"]
    assert f"technical: {folder / 'starcoder-newbpe-q4_0.gguf'} found but unusable (9 B, not a GGUF file). Fix: " \
           "download it in the GPT4All app" in out
    assert f"reviewer: {folder / 'Meta-Llama-3.1-8B-Instruct-128k-Q4_0.gguf'} is missing. Fix:" in out
    assert "hunter2" not in out


def test_asking_for_the_seed_profile_without_its_files_names_each_missing_one(tmp_path, monkeypatch):
    _seed_folder(tmp_path, monkeypatch, skip=("legal", "reviewer"))
    with pytest.raises(ProfileError) as err:
        resolve("gpt4all-seed")
    assert "missing legal (Phi-3-mini-4k-instruct.Q4_0.gguf)" in str(err.value)
    assert "Phi-3-mini-4k-instruct.Q4_0.gguf" in str(err.value)
    assert "Meta-Llama-3.1-8B-Instruct-128k-Q4_0.gguf" in str(err.value)
    assert "orca" not in str(err.value)


def test_toml_config_overrides_one_role(tmp_path):
    cfg = tmp_path / "concilio.toml"
    cfg.write_text('profile = "embedded"\n[roles.technical]\npath = "models/coder.gguf"\n'
                   'chat_template = "chatml"\ncontext_window = 8192\nprompt = "Answer with code."\n', "utf-8")
    profile = resolve(str(cfg), fetch=False)
    tech = profile.role("technical")
    assert tech.model.path == tmp_path / "models" / "coder.gguf" and tech.model.name == "coder"
    assert tech.model.context_window == 8192 and tech.prompt == "Answer with code."
    assert profile.role("legal").model.name == "SmolLM2-135M-Instruct"
    assert profile.model_routing is True  # a real model now plays a role
    rows = {r.role: r for r in describe(profile)}
    assert rows["technical"].present is False and rows["technical"].size_bytes is None
    assert rows["technical"].state == "missing"


def test_user_config_file_is_picked_up_automatically(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[roles.legal]\nmax_tokens = 99\n', "utf-8")
    monkeypatch.setenv("CONCILIO_CONFIG", str(cfg))
    assert resolve(fetch=False).role("legal").max_tokens == 99


@pytest.mark.parametrize(
    "text, message",
    [
        ("[roles.judge]\npath = 'x.gguf'\n", "unknown role"),
        ("[roles.legal]\ncolour = 'red'\n", "unknown key"),
        ("profile = 'cloud'\n", "profile must be"),
        ("[roles.legal\n", "not valid TOML"),
    ],
)
def test_bad_config_files_get_clear_errors(tmp_path, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, "utf-8")
    with pytest.raises(ProfileError, match=message):
        resolve(str(cfg), fetch=False)


def test_unknown_profile_name():
    with pytest.raises(ProfileError, match="unknown profile 'turbo'"):
        resolve("turbo")


def test_model_routing_can_be_set_in_the_config(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("model_routing = true\n", "utf-8")
    assert resolve(str(cfg), fetch=False).model_routing is True
    cfg.write_text("model_routing = 'yes'\n", "utf-8")
    with pytest.raises(ProfileError, match="model_routing must be true or false"):
        resolve(str(cfg), fetch=False)


def test_a_config_that_replaces_every_role_does_not_fetch_the_embedded_model(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCILIO_MODELS_DIR", str(tmp_path / "empty-cache"))
    cfg = tmp_path / "own.toml"
    cfg.write_text("".join(f'[roles.{r}]\npath = "{r}.gguf"\n' for r in ROLES), "utf-8")
    profile = resolve(str(cfg))  # fetch=True, yet nothing to fetch
    assert {r.model.name for r in profile.roles} == set(ROLES)
    assert not (tmp_path / "empty-cache").exists()
