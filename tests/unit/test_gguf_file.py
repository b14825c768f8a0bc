"""Model files are checked before any backend sees them: missing, not GGUF, truncated."""

from __future__ import annotations

import numpy as np
import pytest

from agents.errors import ModelFileError
from agents.models.gguf_file import inspect


@pytest.fixture
def tiny_gguf(tmp_path):
    """A small valid GGUF written with the gguf package (two tensors, a chat template, two tokens)."""
    import gguf

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_context_length(256)
    writer.add_chat_template("{{ messages[0]['content'] }}")
    writer.add_token_list(["<s>", "<|im_start|>", "hello"])
    writer.add_token_types([3, 3, 1])
    writer.add_eos_token_id(0)
    writer.add_tensor("a", np.arange(64, dtype=np.float32))
    writer.add_tensor("b", np.ones((16, 16), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_valid_file_is_read(tiny_gguf):
    info = inspect(tiny_gguf)
    assert info.architecture == "llama" and info.context_length == 256
    assert info.control_tokens == ("<s>", "<|im_start|>") and info.eos_token == "<s>"
    assert info.chat_template == "{{ messages[0]['content'] }}"


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(ModelFileError, match=r"nope\.gguf: not found\. Fix: get it from X"):
        inspect(tmp_path / "nope.gguf", fix="get it from X")


def test_not_gguf(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(ModelFileError, match=r"model\.gguf: is not a GGUF file"):
        inspect(bad)


@pytest.mark.parametrize("content, problem", [(b"root:$6$hunter2:19000:0:99999:7:::\n", "is not a GGUF file"),
                                              (b"", "is empty")])
def test_a_model_path_error_names_the_problem_never_the_content(tmp_path, content, problem):
    secret = tmp_path / "shadow"  # a config's path = "~/../../etc/shadow" must not print the file's first bytes
    secret.write_bytes(content)
    with pytest.raises(ModelFileError) as err:
        inspect(secret, fix="check the path")
    assert f"shadow: {problem}" in str(err.value)
    assert "hunter2" not in str(err.value) and "b'" not in str(err.value)


@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_file(tiny_gguf, tmp_path, keep):
    data = tiny_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelFileError, match=r"cut\.gguf: is truncated"):
        inspect(cut, fix="download it again")


def test_the_metadata_is_read_once_per_file_version(tiny_gguf, tmp_path, monkeypatch):
    """A new process (the in-process cache cleared) reuses what an earlier one read; a changed file is read again."""
    import os

    from agents.models import gguf_file

    monkeypatch.setenv("CONCILIO_CACHE_DIR", str(tmp_path / "cache"))
    reads = []
    real = gguf_file.read
    monkeypatch.setattr(gguf_file, "read", lambda *a: reads.append(a[0]) or real(*a))
    first = inspect(tiny_gguf)
    gguf_file._inspect_cached.cache_clear()
    assert inspect(tiny_gguf) == first and len(reads) == 1  # from the cache folder
    assert len(list((tmp_path / "cache" / "gguf").glob("*.json"))) == 1
    data = bytearray(tiny_gguf.read_bytes())
    data[-1] ^= 0xFF  # same size, another version (its last bytes differ)
    tiny_gguf.write_bytes(bytes(data))
    os.utime(tiny_gguf, ns=(1, 1))
    gguf_file._inspect_cached.cache_clear()
    inspect(tiny_gguf)
    assert len(reads) == 2 and len(list((tmp_path / "cache" / "gguf").glob("*.json"))) == 1  # replaced


def test_a_truncated_copy_is_refused_even_with_a_cache_entry(tiny_gguf, tmp_path, monkeypatch):
    from agents.models import gguf_file

    monkeypatch.setenv("CONCILIO_CACHE_DIR", str(tmp_path / "cache"))
    inspect(tiny_gguf)
    data = tiny_gguf.read_bytes()
    tiny_gguf.write_bytes(data[: int(len(data) * 0.97)])
    gguf_file._inspect_cached.cache_clear()
    with pytest.raises(ModelFileError, match="is truncated"):
        inspect(tiny_gguf)


@pytest.mark.parametrize(("arch", "vocab", "problem"), [
    ("nonsense", None, "model architecture 'nonsense', which llama.cpp"),
    ("llama", "bogus", "tokenizer model 'bogus', which llama.cpp doesn't know"),
])
def test_a_file_llama_cpp_cannot_run_is_refused_before_anything_runs(tmp_path, arch, vocab, problem):
    import gguf

    path = tmp_path / f"{arch}-{vocab}.gguf"
    writer = gguf.GGUFWriter(str(path), arch=arch)
    if vocab:
        writer.add_tokenizer_model(vocab)
    writer.add_tensor("a", np.arange(64, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelFileError, match=problem):
        inspect(path, fix="use another file")
