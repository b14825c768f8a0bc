"""Small pure text signals for the analyze step: accent folding and a complexity level."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case without accents: 'Constitución' -> 'constitucion'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def complexity(question: str) -> str:
    """'trivial' (a greeting, a word or two), 'complex' (long or several questions) or 'simple'."""
    words = question.split()
    if len(words) <= 2 and "?" not in question:
        return "trivial"
    if len(words) > 60 or question.count("?") > 2:
        return "complex"
    return "simple"
