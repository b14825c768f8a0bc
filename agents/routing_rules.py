"""The analyze step's first tier: deterministic cues per domain, in both languages. A pure function.

It decides only when the cues clearly favour one domain; otherwise the orchestrator model is asked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from agents import legal, technical

DOMAINS = ("legal", "technical", "general")
_CUES = {"legal": frozenset(legal.CUES), "technical": frozenset(technical.CUES)}
_WORD = re.compile(r"[a-z0-9+#]+")


def fold(text: str) -> str:
    """Lower case without accents: 'Constitución' -> 'constitucion'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class RuleDecision:
    domain: str | None  # None: the cues don't decide
    confidence: float
    hits: dict[str, int]


def decide(question: str) -> RuleDecision:
    words = _WORD.findall(fold(question))
    hits = {domain: sum(w in cues for w in words) for domain, cues in _CUES.items()}
    ranked = sorted(hits.items(), key=lambda kv: kv[1], reverse=True)
    (top, top_hits), (_, second_hits) = ranked[0], ranked[1]
    if top_hits == 0 or top_hits == second_hits:
        return RuleDecision(None, 0.0, hits)
    margin = top_hits - second_hits
    return RuleDecision(top, min(0.95, 0.6 + 0.1 * margin), hits)


def complexity(question: str) -> str:
    """'trivial' (a greeting, a word or two), 'complex' (long or several questions) or 'simple'."""
    words = question.split()
    if len(words) <= 2 and "?" not in question:
        return "trivial"
    if len(words) > 60 or question.count("?") > 2:
        return "complex"
    return "simple"
