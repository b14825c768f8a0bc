"""Config files are checked when the profile loads: every role setting and every backend option, by table.

Each refusal is a RoleConfigError naming the role, the setting, the value, what it may be and the file;
`concilio models` prints it with exit 2, and `concilio ask` refuses before anything is written.
"""

from __future__ import annotations

import pytest

from agents.backends import options_model
from agents.backends.gpt4all_backend import auto_device
from agents.errors import BackendError, RoleConfigError
from agents.models.profiles import resolve
from graphs.cli import main


def write(tmp_path, body: str, role: str = "legal"):
    cfg = tmp_path / "concilio.toml"
    cfg.write_text(f"[roles.{role}]\n{body}\n", "utf-8")
    return cfg


@pytest.mark.parametrize("body, setting, may_be", [
    ('context_window = "8k"', "context_window = '8k'", "from 1 to 1,048,576"),
    ("context_window = 0", "context_window = 0", "from 1 to 1,048,576"),
    ("context_window = -1", "context_window = -1", "from 1 to 1,048,576"),
    ("context_window = 1000000000", "context_window = 1000000000", "from 1 to 1,048,576"),
    ("context_window = true", "context_window = True", "whole number of tokens"),
    ("context_window = 4096.5", "context_window = 4096.5", "whole number of tokens"),
    ("max_tokens = 0", "max_tokens = 0", "at least 1"),
    ('max_tokens = "400"', "max_tokens = '400'", "at least 1"),
    ("threads = 0", "threads = 0", "from 1 to 1024"),
    ('device = "bogus"', "device = 'bogus'", "auto, cpu, gpu, cuda, kompute"),
    ('device = "gpu0"', "device = 'gpu0'", "auto, cpu, gpu, cuda, kompute"),
    ('device = "cuda:"', "device = 'cuda:'", "cuda:NAME"),
    ('backend = "vllm"', "backend = 'vllm'", "use one of gpt4all, llamacpp, openai"),
    ('chat_template = "mistral"', "chat_template = 'mistral'", "'gguf' (the file's own) or one of alpaca, chatml"),
    ('options = "fast"', "options = 'fast'", "must be a table"),
    ('options = { colour = "red" }', "unknown option 'colour'", "backend 'gpt4all' takes no options"),
    ('backend = "openai"', "backend 'openai' needs options.base_url or options.endpoints", "takes base_url, endpoints"),
    ('backend = "openai"\noptions = { base_url = "http://127.0.0.1:9/v1", timeout = -1 }', "option timeout = -1",
     "greater than 0"),
    ('backend = "openai"\noptions = { base_url = "http://127.0.0.1:9/v1", flavor = "olama" }',
     "option flavor = 'olama'", "'openai' or 'ollama'"),
    ('backend = "llamacpp"\ndevice = "kompute"', "device = 'kompute'", "auto, cpu, gpu, cuda, metal, vulkan"),
    ('backend = "llamacpp"\noptions = { extra_bufers = true }', "unknown option 'extra_bufers'", "takes extra_buffers"),
    ('name = ""', "name = ''", "a non-empty string"),
    ("path = 3", "path = 3", "the path of a GGUF file"),
    ('colour = "red"', "unknown key(s) colour", "a role takes name, path"),
])
def test_a_bad_role_setting_is_refused_when_the_profile_loads(tmp_path, body, setting, may_be):
    cfg = write(tmp_path, body)
    with pytest.raises(RoleConfigError) as err:
        resolve(str(cfg), fetch=False)
    message = str(err.value)
    assert message.startswith(f"config file {cfg}: [roles.legal] ") and message.endswith(f"Fix it in {cfg}")
    assert setting in message and may_be in message
    assert "fake" not in message  # the tests' backend is never offered to users
    assert err.value.exit_code == 2


@pytest.mark.parametrize("body", [
    'context_window = 131072\nmax_tokens = 400\nthreads = 8\ndevice = "auto"',
    'device = "cuda:NVIDIA H200"',
    'device = "kompute:AMD Radeon"',
    'chat_template = "chatml"\nprompt = "Responde en una frase."',
    'backend = "llamacpp"\ndevice = "gpu"\noptions = { extra_buffers = true }',
    'backend = "openai"\nname = "phi3"\noptions = { endpoints = ["http://a/v1", "http://b/v1"], flavor = "ollama", '
    'timeout = 30, retries = 0, cooldown = 5, api_key_env = "KEY", size_mb = 2000 }',
])
def test_good_role_settings_load(tmp_path, body):
    assert resolve(str(write(tmp_path, body)), fetch=False).role("legal").model.name


def test_every_problem_of_a_table_is_named_at_once(tmp_path):
    cfg = write(tmp_path, 'context_window = 0\ndevice = "gpu0"', role="reviewer")
    with pytest.raises(RoleConfigError, match=r"\[roles.reviewer\] context_window = 0 .*; \[roles.reviewer\] device"
                                              r" = 'gpu0' .*Fix them in"):
        resolve(str(cfg), fetch=False)


@pytest.mark.parametrize("backend, options, problem", [
    ("openai", {"base_url": "http://x/v1", "retries": -1}, "option retries = -1"),
    ("fake", {"reply": "x", "lod_seconds": 1}, "unknown option 'lod_seconds'"),
    ("gpt4all", {"size_mb": 10}, "unknown option 'size_mb'"),
])
def test_backends_check_the_options_of_a_spec_built_in_code(backend, options, problem):
    from pathlib import Path

    from agents.models.profiles import ModelSpec

    spec = ModelSpec(name="m", path=Path("/nonexistent.gguf"), backend=backend, options=tuple(options.items()))
    with pytest.raises(BackendError, match=f"model m: {problem}"):
        options_model(backend).of(spec)


@pytest.mark.parametrize("gpus, apple_silicon, device", [
    ([], False, "cpu"),
    (["kompute:AMD Radeon RX 7900"], False, "gpu"),
    (["kompute:NVIDIA H200", "cuda:NVIDIA H200"], False, "cuda"),
    ([], True, "gpu"),  # Metal
])
def test_auto_device_takes_a_gpu_when_gpt4all_finds_one(gpus, apple_silicon, device):
    assert auto_device(gpus, apple_silicon=apple_silicon) == device


def test_concilio_models_reports_a_bad_config_without_a_traceback(tmp_path, capsys):
    cfg = write(tmp_path, 'context_window = "8k"')
    assert main(["models", "--profile", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: config file ") and "context_window = '8k'" in err and "Traceback" not in err


def test_concilio_ask_with_a_bad_config_writes_nothing(tmp_path, capsys, monkeypatch):
    from agents.paths import data_dir
    from memory.ledger import LEDGER_NAME

    monkeypatch.delenv("CONCILIO_LEDGER_URL", raising=False)
    cfg = write(tmp_path, 'device = "gpu0"')
    assert main(["ask", "¿Puede mi casero subirme el alquiler?", "--profile", str(cfg), "--thread", "t1"]) == 2
    assert "device = 'gpu0'" in capsys.readouterr().err
    folder = data_dir()  # threads, store and ledger all live here: nothing was created
    assert not folder.exists() or not any(folder.rglob("*")), sorted(folder.rglob("*"))
    assert not (folder / LEDGER_NAME).exists()


@pytest.mark.parametrize("text, message", [
    ("[roles.judge]\npath = 'x.gguf'\n", "unknown role(s) judge"),
    ("[roles.legal\n", "is not valid TOML"),
    ("profile = 'cloud'\n", "profile must be 'embedded' or 'gpt4all-seed', not 'cloud'"),
    ("roles = 3\n", "roles = 3 can't be used"),
    ("[roles]\nlegal = 3\n", "roles.legal = 3 can't be used: it must be a table"),
])
def test_concilio_models_reports_any_unusable_config_file_with_exit_2(tmp_path, capsys, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, "utf-8")
    assert main(["models", "--profile", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and str(cfg) in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["nope", "embeded"])
def test_an_unknown_concilio_profile_is_refused_with_its_name(monkeypatch, capsys, value):
    monkeypatch.setenv("CONCILIO_PROFILE", value)
    assert main(["models"]) == 2
    assert f"CONCILIO_PROFILE={value}: unknown profile {value!r}" in capsys.readouterr().err
