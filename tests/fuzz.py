"""Seeded generated questions for the fuzz smoke runs (tests/unit/test_fuzz.py on the fake backend,
tests/integration/test_fuzz_real.py on the embedded model): each is (kind, question, thread id), and each
kind is either answered or refused with one ConcilioError."""

from __future__ import annotations

import random

from forged import FORGED

from agents.backends.markers import KNOWN_MARKERS
from agents.errors import EmptyQuestionError, QuestionExceedsWindowError, QuestionTooLongError, ThreadIdError

WORDS = {
    "es": "contrato arrendamiento casero inquilino preaviso fianza lista función Python error servidor receta "
          "¿puede ¿cómo ¿qué es la el un una de del sin con para mi piso".split(),
    "en": "lease contract landlord tenant notice deposit list function Python error server recipe can how what "
          "is the a of without with for my flat".split(),
}
SCRIPTS = ["日本語のテキスト", "Привет мир", "مرحبا بالعالم", "नमस्ते", "🙂🚀👩\u200d💻", "Ωμέγα", "שָׁלוֹם",
           "e\u0301\u0301\u0301"]
SURROGATES = ["\udce9", "\udcff", "\ud800", "\udfff", "\udc80"]
ESCAPES = ["\x1b[2J", "\x1b[31m", "\x1b]0;pwned\x07", "\x1b]8;;http://evil\x1b\\", "\x9b6n", "\x00", "\x07", "\r",
           "\b", "\u202e"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u3164", "\u2800", "\u00a0", " ", "\t"]
BAD_THREADS = ["caf\udce9", "a\x1b[2J", "a\nb", "\u200b", "x" * 300, "a\x00b"]

# kind → the error that refuses it (None: answered)
EXPECTED = {
    "plain": None, "unicode": None, "surrogates": None, "controls": None, "markers": None,
    "invisible": EmptyQuestionError, "too_long_for_window": QuestionExceedsWindowError,
    "too_long": QuestionTooLongError, "bad_thread": ThreadIdError,
}
WEIGHTS = {"plain": 4, "unicode": 3, "surrogates": 3, "controls": 3, "markers": 4, "invisible": 2,
           "too_long_for_window": 1, "too_long": 1, "bad_thread": 2}


def _sentence(rng: random.Random) -> str:
    words = WORDS[rng.choice(["es", "en"])]
    return " ".join(rng.choice(words) for _ in range(rng.randint(2, 12))) + rng.choice(["?", ".", "", "!"])


def _sprinkle(rng: random.Random, text: str, extras: list[str], count: int) -> str:
    for _ in range(count):
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(extras) + text[at:]
    return text


def make(kind: str, rng: random.Random) -> tuple[str, str | None]:
    """(question, thread id or None) of `kind`."""
    if kind == "plain":
        return _sentence(rng), None
    if kind == "unicode":
        return _sprinkle(rng, _sentence(rng), SCRIPTS + [chr(rng.randint(0x20, 0x2FFFF))], rng.randint(1, 5)), None
    if kind == "surrogates":
        return _sprinkle(rng, _sentence(rng), SURROGATES, rng.randint(1, 4)), None
    if kind == "controls":
        return _sprinkle(rng, _sentence(rng), ESCAPES, rng.randint(1, 6)), None
    if kind == "markers":
        return _sprinkle(rng, _sentence(rng), [*FORGED.values(), *KNOWN_MARKERS], rng.randint(1, 4)), None
    if kind == "invisible":
        return "".join(rng.choice(INVISIBLE) for _ in range(rng.randint(0, 12))), None
    if kind == "too_long_for_window":
        return (_sentence(rng) + " ") * 1 + "x" * rng.randint(8_000, 19_000), None
    if kind == "too_long":
        return "y" * rng.randint(20_001, 40_000), None
    return _sentence(rng), rng.choice(BAD_THREADS)


def questions(count: int, seed: int) -> list[tuple[str, str, str | None]]:
    rng = random.Random(seed)
    kinds = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=count)
    return [(kind, *make(kind, rng)) for kind in kinds]
