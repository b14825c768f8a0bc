"""Routing a turn with its thread, and with what is already on the GPU: two pure decisions.

`with_thread()`: a follow-up that carries no domain of its own ("make it faster", "¿y en España?", "rewrite
that more formally") keeps the thread's domain; a real change of subject still switches. The thread's domain
is a prior: the turn's own scores are weighed against it (Bayes with prior `stickiness` on the thread's
domain), so only a turn that clearly belongs elsewhere moves the thread. Cue words in both languages adjust the
prior: a turn that points back ("that", "it", "¿y si…?", "ahora…") keeps it more firmly, one that announces a new
subject ("another question", "cambiando de tema") drops it.

`prefer_resident()`: when the classifier's top two domains are within a margin and the runner-up's model is
the one already resident, the resident model answers (a swap costs seconds; the expected accuracy given up
is at most the margin). The margin is scaled by the measured swap cost and is off for explicit routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.routing.signals import fold

# Prior on the thread's domain: switching needs the turn's odds (own domain vs the thread's) above 2s/(1-s).
STICKINESS = 0.8  # a turn without cues, towards legal or technical: odds > 8
FOLLOW_STICKINESS = 0.95  # a turn that points back at the thread: odds > 38
# `general` is the catch-all: a turn with no domain of its own scores high on it ("make it faster": general
# 0.94). Scoring general is weak evidence of leaving the thread, so switching to it takes more.
CATCH_ALL = "general"
CATCH_ALL_STICKINESS = (0.95, 0.99)  # without cues (odds > 38), pointing back (odds > 198)
REFERENCE_SWAP_S = 5.0  # a swap this slow (or slower) gets the whole margin; a faster one proportionally less
EXPLICIT = ("override", "feedback")

_LEAD = re.compile(
    r"^(?:and|but|also|now|then|ok(?:ay)?|so|what about|how about|what if|and if|y|e|pero|tambien|ahora|"
    r"entonces|vale|bueno|y si|que tal|y en|y para|y con|y el|y la|y los|y las|y que)\b")
_EDIT = re.compile(
    r"\b(?:rewrite|rephrase|reword|summari[sz]e|translate|shorter|longer|simpler|more formal(?:ly)?|"
    r"more casual(?:ly)?|elaborate|continue|give me (?:another|more|\w+ more)|another one|more examples?|"
    r"your (?:previous |last |earlier )?(?:answer|response|code|example|reply)|previous (?:answer|response)|"
    r"same thing|the above|(?:mentioned|listed|described) (?:above|earlier)|"
    r"lo mismo|otra vez|de nuevo|mas corto|mas corta|mas largo|mas larga|mas sencillo|mas formal|"
    r"reescrib\w*|reformul\w*|resum\w*|traduc\w*|amplia\w*|continua|lo anterior|"
    r"(?:mencionad|citad|descrit)[oa]s? (?:antes|arriba|anteriormente)|"
    r"tu (?:ultim[oa] |anterior )?(?:respuesta|codigo|ejemplo)|"
    r"hazl[oa]|dame (?:otro|otra|mas|\w+ mas))\b")
_POINTER = re.compile(r"\b(?:it|its|that|this|these|those|them|above|instead|eso|esto|ese|esa|esos|esas|"
                      r"anterior|en vez)\b")
_CHANGE = re.compile(
    r"\b(?:(?:a |one )?(?:different|another|new|unrelated|separate|other) (?:question|topic|subject|thing)|"
    r"on (?:another|a different) (?:note|topic)|by the way|switching (?:topics|gears)|changing (?:the )?subject|"
    r"totally unrelated|unrelated|otra pregunta|nueva pregunta|otra cosa|otro tema|cambiando de tema|"
    r"cambio de tema|nada que ver|por cierto|aparte de eso|una pregunta distinta)\b")
SHORT = 8  # words: a turn this short that points at something ("it", "eso") points back at the thread
_WORD = re.compile(r"[a-z0-9]+")


def cue(text: str) -> str | None:
    """'change' when the turn announces a new subject, 'follow' when it points back at the thread, else None.
    Pure; both languages, accents folded."""
    folded = fold(text).strip(" ¿¡\t\n")
    if _CHANGE.search(folded):
        return "change"
    if _LEAD.search(folded) or _EDIT.search(folded):
        return "follow"
    if len(_WORD.findall(folded)) <= SHORT and _POINTER.search(folded):
        return "follow"
    return None


@dataclass(frozen=True)
class ThreadRoute:
    domain: str
    kept: bool  # the thread's domain was kept over the turn's own
    why: str  # for the trace and the route ("" when the thread had no say)


def with_thread(scores: dict[str, float], thread_domain: str | None, text: str, *,
                stickiness: float = STICKINESS, follow_stickiness: float = FOLLOW_STICKINESS,
                use_cues: bool = True) -> ThreadRoute:
    """The domain of a turn given its own scores and the thread's domain so far (`use_cues=False`: the prior
    alone, no cue words; for measuring what the cues add). Pure."""
    own = max(scores, key=scores.__getitem__)
    if not thread_domain or thread_domain not in scores or own == thread_domain:
        return ThreadRoute(own, False, "")
    said = cue(text) if use_cues else None
    alone = f"the turn alone: {own} {scores[own]:.2f}, {thread_domain} {scores[thread_domain]:.2f}"
    if said == "change":
        return ThreadRoute(own, False, f"topic change: the turn announces a new subject ({alone})")
    if own == CATCH_ALL:
        prior = CATCH_ALL_STICKINESS[said == "follow"]
    else:
        prior = follow_stickiness if said == "follow" else stickiness
    others = (1 - prior) / max(len(scores) - 1, 1)
    posterior = {d: p * (prior if d == thread_domain else others) for d, p in scores.items()}
    best = max(posterior, key=posterior.__getitem__)
    if best == thread_domain:
        how = "points back at the thread" if said == "follow" else "carries no clear domain of its own"
        return ThreadRoute(thread_domain, True, f"follow-up: kept the thread's {thread_domain}; the turn {how} "
                                                f"({alone})")
    return ThreadRoute(best, False, f"topic change: the turn is clearly {best} ({alone})")


def thread_question(history: list[dict], question: str) -> str:
    """The earlier user turns' text (for display/evaluation: what the thread was about). Pure."""
    users = [m["content"] for m in history if m.get("role") == "user"]
    return " ".join([*users[-1:], question])


@dataclass(frozen=True)
class SwapChoice:
    domain: str
    saved: bool  # routed to the resident model instead of the classifier's top
    why: str


def effective_margin(margin: float, swap_seconds: float | None, reference: float = REFERENCE_SWAP_S) -> float:
    """The margin scaled by what a swap costs here: the whole margin for a swap of `reference` seconds or
    more, proportionally less for a cheaper one; the whole margin when no swap has been measured yet. Pure."""
    if margin <= 0:
        return 0.0
    if swap_seconds is None:
        return margin
    return margin * min(1.0, max(swap_seconds, 0.0) / reference)


def prefer_resident(scores: dict[str, float], resident: set[str], by: str, margin: float) -> SwapChoice:
    """The top domain, or the runner-up when its model is resident, the top's is not, and the two are within
    `margin` (an effective margin: see effective_margin). Never for explicit routes (override, feedback). Pure."""
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    top = ranked[0]
    if margin <= 0 or by in EXPLICIT or len(ranked) < 2 or top in resident:
        return SwapChoice(top, False, "")
    second = ranked[1]
    gap = scores[top] - scores[second]
    if second in resident and gap <= margin:
        return SwapChoice(second, True, f"swap-aware: {second}'s model is resident and {top} leads by only "
                                        f"{gap:.2f} (margin {margin:.2f}); no swap")
    return SwapChoice(top, False, "")
