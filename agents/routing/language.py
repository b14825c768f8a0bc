"""Which language the user writes in: Spanish or English, with py3langid restricted to those two.

Short, ambiguous text ("ok", "hola") falls back to the conversation's language so far.
"""

from __future__ import annotations

import functools
from typing import Literal

Language = Literal["es", "en"]
LANGUAGES: tuple[Language, ...] = ("es", "en")
NAMES = {"es": {"es": "español", "en": "inglés"}, "en": {"es": "Spanish", "en": "English"}}
MIN_CONFIDENCE = 0.8
_SPANISH_ONLY = set("¿¡ñÑ")


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LANGUAGES))
    return ident


def detect(text: str, fallback: Language = "en") -> tuple[Language, float]:
    """(language, confidence). Spanish-only punctuation/letters settle it outright."""
    if _SPANISH_ONLY & set(text):
        return "es", 1.0
    lang, prob = _identifier().classify(text)
    if prob < MIN_CONFIDENCE:
        return fallback, float(prob)
    return lang, float(prob)


def name(lang: Language, in_lang: Language = "en") -> str:
    return NAMES[in_lang][lang]
