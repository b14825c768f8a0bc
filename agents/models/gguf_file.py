"""Reading and checking GGUF files with the `gguf` package, before any backend touches them.

llama.cpp may abort the whole process on a malformed file, so every load is preceded by `inspect()`,
which refuses a missing, non-GGUF or truncated file with a `ModelFileError` naming the file and the fix.

Reading the metadata takes seconds (`gguf.GGUFReader` maps every tensor), so what `inspect()` found is kept
in the cache folder (`gguf/`, one small JSON per model file), keyed by the file's size, mtime and a hash of
its first and last 64 KiB: each version of a file is read once per machine, not once per process.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from agents.errors import ModelFileError

GGUF_MAGIC = b"GGUF"
KEY_PRE_TOKENIZER = "tokenizer.ggml.pre"
KEY_CHAT_TEMPLATE = "tokenizer.chat_template"
_CONTROL_TOKEN = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL


@dataclass(frozen=True)
class GGUFInfo:
    path: str
    size: int
    architecture: str
    context_length: int | None
    chat_template: str | None
    control_tokens: tuple[str, ...]  # strings a user must not be able to inject (<|im_start|>, ...)
    bos_token: str
    eos_token: str
    # what a memory estimate needs (agents/slot/memory_need.py); 0 when the file doesn't say
    tensor_bytes: int = 0
    block_count: int = 0
    head_count_kv: int = 0
    key_length: int = 0  # per head
    value_length: int = 0
    add_bos: bool = False  # the tokenizer puts the BOS token first by itself


def inspect(path: str | os.PathLike[str], fix: str = "download the file again") -> GGUFInfo:
    """Check that `path` is a complete GGUF file and return what concilio needs from its metadata."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelFileError(p, "not found", fix) from None
    if not p.is_file():
        raise ModelFileError(p, "is not a file", fix)
    return _inspect_cached(str(p.resolve()), st.st_size, st.st_mtime_ns, fix)


PARTIAL = 64 * 1024  # bytes hashed at each end of the file for the cache key
CACHE_VERSION = 2  # bump when GGUFInfo changes: older entries are then read again


def version_key(path: str, size: int, mtime_ns: int) -> str:
    """What identifies one version of a model file: size, mtime and a hash of its first and last 64 KiB."""
    digest = hashlib.sha256(f"{CACHE_VERSION}:{size}:{mtime_ns}:".encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(PARTIAL))
        if size > PARTIAL:
            fh.seek(max(PARTIAL, size - PARTIAL))
            digest.update(fh.read(PARTIAL))
    return digest.hexdigest()


def _entry(path: str) -> Path:
    from agents import paths

    return paths.cache_dir() / "gguf" / (hashlib.sha256(path.encode()).hexdigest()[:24] + ".json")


def _from_disk(path: str, key: str) -> GGUFInfo | None:
    try:
        saved = json.loads(_entry(path).read_text("utf-8"))
        if saved.get("key") != key:
            return None
        fields = saved["info"]
        return GGUFInfo(**{**fields, "path": path, "control_tokens": tuple(fields["control_tokens"])})
    except (OSError, ValueError, TypeError, KeyError):  # no entry yet, or a damaged one: read the file
        return None


def _to_disk(path: str, key: str, info: GGUFInfo) -> None:
    entry = _entry(path)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "info": dataclasses.asdict(info)}, ensure_ascii=False), "utf-8")
        os.replace(tmp, entry)  # one entry per file path: a new version replaces the old one
    except OSError:  # a read-only cache folder costs the speed-up, never the check
        pass


# tokenizer.ggml.model values llama.cpp loads (llama-vocab.cpp); any other makes gpt4all "load" a model that
# then writes nothing, so such a file is refused before anything runs
TOKENIZER_MODELS = frozenset({"llama", "gpt2", "bert", "t5", "rwkv", "ugm", "plamo2", "no_vocab", "none"})


@functools.lru_cache(maxsize=32)
def _inspect_cached(path: str, size: int, mtime_ns: int, fix: str) -> GGUFInfo:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        # never the bytes themselves: `path` may be any file the config names (a key, a password file)
        raise ModelFileError(path, "is empty" if not magic else "is not a GGUF file (it lacks GGUF's signature)", fix)
    key = version_key(path, size, mtime_ns)
    info = _from_disk(path, key)
    if info is None:
        info = read(path, size, fix)
        _to_disk(path, key, info)
    return info


def read(path: str, size: int, fix: str) -> GGUFInfo:
    """Read and check the GGUF header with the gguf package (seconds for a large file; inspect() caches it)."""
    import gguf  # heavy-ish import (numpy): only when a model is actually checked

    try:
        reader = gguf.GGUFReader(path, "r")
    except Exception as exc:  # the reader raises ValueError/IndexError/... on cut-off headers
        raise ModelFileError(path, f"is truncated or damaged (the GGUF reader says: {exc})", fix) from None
    needed = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    if needed > size:
        raise ModelFileError(path, f"is truncated ({size:,} bytes on disk, its header needs {needed:,})", fix)

    def field(key: str):
        f = reader.fields.get(key)
        return f.contents() if f is not None else None

    arch = field("general.architecture") or "unknown"
    if arch not in {str(name) for name in gguf.MODEL_ARCH_NAMES.values()}:
        raise ModelFileError(path, f"has the model architecture {arch!r}, which llama.cpp (and so gpt4all) can't run",
                             fix)
    vocab = field("tokenizer.ggml.model")
    if vocab is not None and vocab not in TOKENIZER_MODELS:
        raise ModelFileError(path, f"has the tokenizer model {vocab!r}, which llama.cpp doesn't know (it knows "
                                   f"{', '.join(sorted(TOKENIZER_MODELS))})", fix)
    tokens = field("tokenizer.ggml.tokens") or []
    types = field("tokenizer.ggml.token_type") or []
    control = tuple(t for t, kind in zip(tokens, types) if kind == _CONTROL_TOKEN)

    def token(key: str) -> str:
        idx = field(key)
        return tokens[idx] if isinstance(idx, int) and 0 <= idx < len(tokens) else ""

    heads = field(f"{arch}.attention.head_count") or 0
    head_dim = (field(f"{arch}.embedding_length") or 0) // heads if heads else 0
    return GGUFInfo(
        path=path,
        size=size,
        architecture=arch,
        context_length=field(f"{arch}.context_length"),
        chat_template=field(KEY_CHAT_TEMPLATE),
        control_tokens=control,
        bos_token=token("tokenizer.ggml.bos_token_id"),
        eos_token=token("tokenizer.ggml.eos_token_id"),
        tensor_bytes=sum(int(t.n_bytes) for t in reader.tensors),
        block_count=field(f"{arch}.block_count") or 0,
        head_count_kv=field(f"{arch}.attention.head_count_kv") or heads,
        key_length=field(f"{arch}.attention.key_length") or head_dim,
        value_length=field(f"{arch}.attention.value_length") or head_dim,
        add_bos=_adds_bos(field("tokenizer.ggml.add_bos_token"), vocab),
    )


def _adds_bos(flag, vocab: str | None) -> bool:
    """The file's add_bos_token, else llama.cpp's default for its tokenizer (SentencePiece adds one). Pure."""
    return bool(flag) if flag is not None else vocab == "llama"


def summary(path: str | os.PathLike[str]) -> tuple[dict[str, object], dict[str, tuple[str, tuple[int, ...], int]]]:
    """(every metadata key with its value, name -> (sha256 of the tensor's bytes, shape, ggml type)),
    read in one pass: enough to prove two files carry the same weights and keys."""
    import hashlib

    import gguf

    reader = gguf.GGUFReader(str(path), "r")
    keys = {name: f.contents() for name, f in reader.fields.items() if not name.startswith("GGUF.")}
    tensors = {
        t.name: (hashlib.sha256(t.data.tobytes()).hexdigest(), tuple(int(d) for d in t.shape), int(t.tensor_type))
        for t in reader.tensors
    }
    return keys, tensors
