"""Choosing and configuring the llama.cpp and OpenAI-compatible backends (no model loaded)."""

from __future__ import annotations

import pytest

from agents.backends import loader_for
from agents.errors import BackendError
from agents.models import embedded
from agents.models.profiles import from_config


@pytest.mark.parametrize("device, offload, expected", [
    ("cpu", True, (0, "")),
    (None, False, (0, "")),
    ("gpu", True, (-1, "")),
    ("cuda", True, (-1, "")),
    ("gpu", False, (0, "device gpu asked, but llama-cpp-python was built without GPU offload; running on cpu")),
    ("auto", True, (-1, "")),
    ("auto", False, (0, "")),  # auto on a CPU-only build: the CPU, nothing to warn about
])
def test_gpu_layers_for_a_device(device, offload, expected):
    from agents.backends.llamacpp_backend import gpu_layers

    assert gpu_layers(device, offload) == expected


def test_a_config_can_put_roles_on_servers_and_on_llamacpp(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text(
        '[roles.legal]\nbackend = "openai"\nname = "phi3:mini"\n'
        'options = { endpoints = ["http://a:11434/v1", "http://b:11434/v1"], flavor = "ollama", timeout = 30 }\n'
        '[roles.technical]\nbackend = "llamacpp"\n', "utf-8")
    profile = from_config(toml, fetch=False)
    legal, technical = profile.role("legal").model, profile.role("technical").model
    assert dict(legal.options)["endpoints"] == ("http://a:11434/v1", "http://b:11434/v1")  # hashable
    assert hash(legal.key) and legal.name == "phi3:mini"
    # llama.cpp reads SmolLM2's original file: no pre-tokenizer conversion needed
    assert technical.path == embedded.paths().original and technical.name.endswith("(llama.cpp)")
    assert profile.role("orchestrator").model.backend == "gpt4all"


def test_every_backend_is_registered_and_a_missing_package_names_its_extra(monkeypatch, tmp_path):
    for name in ("gpt4all", "llamacpp", "openai", "fake"):
        assert callable(loader_for(name))
    import sys

    from agents.backends import load_model
    from agents.models.profiles import ModelSpec

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as on a machine without the extra
    toml = tmp_path / "c.toml"
    toml.write_text('[roles.technical]\nbackend = "llamacpp"\noptions = { extra_buffers = true }\n', "utf-8")
    assert from_config(toml, fetch=False).role("technical").model.backend == "llamacpp"  # checked without it
    with pytest.raises(BackendError, match=r"llama_cpp; install it with pip install 'concilio\[llama\]'"):
        load_model(ModelSpec(name="m", path=tmp_path / "m.gguf", backend="llamacpp"))
