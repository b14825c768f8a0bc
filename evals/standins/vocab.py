"""Synthetic tokenizers that llama.cpp loads, padded to a model's real vocabulary size, with the model's real
special tokens at their real ids (type CONTROL). Pure: lists in, lists out.

- "llama" (SentencePiece, Orca 2 and Phi-3): `<unk>`, `<s>`, `</s>`, the 256 byte-fallback pieces `<0x00>`…
  at ids 3–258 as in Llama 2's vocabulary, then pieces (common English and Spanish words, their prefixes, letter
  pairs and triples) scored so that longer, earlier pieces merge first, any left-over ids as `[PADn]`.
- "gpt2" (byte-level BPE, StarCoder and Llama 3.1): the 256 byte symbols, then merges that build the same
  words letter by letter (each merge's parts are tokens already), the rest `[PADn]`.

Fillers are NORMAL tokens, not UNUSED as converters mark real padding: random weights do sample them, and
gpt4all 2.8.2 aborts the process on a generated token with an empty piece (an UNUSED token's piece is empty:
"arguments to stringsOverlap must not be empty"), which a trained model never generates.

Any text tokenises (bytes are the fallback), so a prompt's token ids can be checked, which is what the tests
need: the special ids appear only where a chat template put them.
"""

from __future__ import annotations

import itertools
import string

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6  # llama.cpp's token types

WORDS = """the of and to in is you that it for on are with as this be what how do can my not or if from by
an at your have will was which file list code python function return import class def print value error
question answer law contract court legal right rights tenant landlord notice employer week days
el la de que y en los las por con para una un del se es su al lo como más pero sus le ya o este sí porque
esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante todos uno les ni
contra otros ese eso ante ellos e esto mí antes algunos qué unos yo otro otras otra él tanto esa estos mucho
quienes nada muchos cual poco ella estar estas algunas algo nosotros contrato ley derecho inquilino piso
plazo preaviso empresa trabajo lista código función archivo pregunta respuesta cómo puede puedo necesita
""".split()
ACCENTED = "áéíóúñüÁÉÍÓÚÑÜ¿¡"


def _pieces() -> list[str]:
    """Pieces in merge-priority order, no duplicates."""
    seen: dict[str, None] = {}
    for word in WORDS:
        for form in (word, word.capitalize()):
            for end in range(2, len(form) + 1):
                seen.setdefault(form[:end])
    letters = string.ascii_lowercase
    for a, b in itertools.product(letters, repeat=2):
        seen.setdefault(a + b)
    for a, b, c in itertools.product(letters, repeat=3):
        seen.setdefault(a + b + c)
    return list(seen)


def spm(n_vocab: int, specials: dict[int, str]) -> tuple[list[str], list[float], list[int]]:
    """(tokens, scores, types) for a SentencePiece vocabulary of exactly `n_vocab` entries."""
    tokens: list[str | None] = [None] * n_vocab
    types = [NORMAL] * n_vocab
    for tid, text in specials.items():
        tokens[tid] = text
        types[tid] = UNKNOWN if text == "<unk>" else CONTROL
    for byte in range(256):
        tokens[3 + byte] = f"<0x{byte:02X}>"
        types[3 + byte] = BYTE
    chars = ["▁", *string.ascii_letters, *string.digits, *string.punctuation, *ACCENTED]
    pieces = chars + [p for word in _pieces() for p in ("▁" + word, word)]
    free = (i for i in range(n_vocab) if tokens[i] is None)
    scores = [0.0] * n_vocab
    used: set[str] = set(specials.values())
    rank = 0
    for piece in pieces:
        if piece in used:
            continue
        tid = next(free, None)
        if tid is None:
            break
        tokens[tid] = piece
        used.add(piece)
        # single characters score lowest, so SentencePiece merges them into longer pieces first
        scores[tid] = -1e6 if len(piece) == 1 else -float(rank)
        rank += 1
    for tid in free:
        tokens[tid] = f"[PAD{tid}]"
    return [t or "" for t in tokens], scores, types


def byte_symbols() -> list[str]:
    """GPT-2's byte-level alphabet: byte b as one printable character (printable bytes stand for themselves,
    the others are shifted past 255)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out, shift = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + shift)
            shift += 1
    return [out[b] for b in range(256)]


def _encode(text: str, symbols: list[str]) -> str:
    return "".join(symbols[b] for b in text.encode("utf-8"))


def bpe(n_vocab: int, specials: dict[int, str]) -> tuple[list[str], list[int], list[str]]:
    """(tokens, types, merges) for a byte-level BPE vocabulary of exactly `n_vocab` entries."""
    symbols = byte_symbols()
    tokens: list[str | None] = [None] * n_vocab
    types = [NORMAL] * n_vocab
    for tid, text in specials.items():
        tokens[tid], types[tid] = text, CONTROL
    free = (i for i in range(n_vocab) if tokens[i] is None)
    have: set[str] = set()
    merges: list[str] = []

    def add(text: str) -> bool:
        if text in have:
            return True
        tid = next(free, None)
        if tid is None:
            return False
        tokens[tid] = text
        have.add(text)
        return True

    for s in symbols:
        add(s)
    space = symbols[ord(" ")]
    for word in _pieces():
        for form in (_encode(word, symbols), space + _encode(word, symbols)):
            chars = list(form)  # byte symbols: one character each
            left = chars[0]
            for ch in chars[1:]:
                merged = left + ch
                if merged not in have:
                    if not add(merged):
                        break
                    merges.append(f"{left} {ch}")
                left = merged
    for tid in free:
        tokens[tid] = f"[PAD{tid}]"
    return [t or "" for t in tokens], types, merges
