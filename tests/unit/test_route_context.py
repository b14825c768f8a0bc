"""Routing in context, its pure parts by table: follow-ups keep the thread's domain and real changes of subject
switch (English and Spanish); the swap-aware rule; the stacking and exemplar vote of the embedding tier."""

from __future__ import annotations

import numpy as np
import pytest

from agents.routing import context as C
from agents.routing import semantic as S


def _scores(legal: float, technical: float, general: float) -> dict[str, float]:
    return {"legal": legal, "technical": technical, "general": general}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("make it faster", "follow"),
        ("hazla más rápida", "follow"),
        ("rewrite that more formally", "follow"),
        ("reescríbela de forma más formal", "follow"),
        ("¿y en España?", "follow"),
        ("what if I didn't get a receipt?", "follow"),
        ("now do the same in R", "follow"),
        ("shorter please", "follow"),
        ("In your last example of reinforcement learning, could supervised learning solve it?", "follow"),
        ("En tu último ejemplo de aprendizaje por refuerzo, ¿serviría el aprendizaje supervisado?", "follow"),
        ("Write a training script for new staff that highlights the above norms.", "follow"),
        ("Escribe un guion de formación para el personal nuevo con las normas mencionadas antes.", "follow"),
        ("Convierte lo anterior en una tabla con una fila por país.", "follow"),
        ("Different question: can my landlord raise the rent?", "change"),
        ("Cambiando de tema, ¿qué libros me recomiendas?", "change"),
        ("Por cierto, ¿cómo instalo paquetes de Python?", "change"),
        ("By the way, how do I install Python packages?", "change"),
        ("How do I configure nginx as a reverse proxy for a Flask app on Ubuntu 22.04?", None),
        ("¿Cuál es la capital de Australia?", None),
    ],
)
def test_cue_words_in_both_languages(text, expected):
    assert C.cue(text) == expected


@pytest.mark.parametrize(
    "scores, thread, text, domain, kept",
    [
        # a follow-up with no domain of its own keeps the thread's
        (_scores(0.10, 0.25, 0.65), "technical", "make it faster", "technical", True),
        (_scores(0.20, 0.10, 0.70), "legal", "¿y en España?", "legal", True),
        (_scores(0.30, 0.05, 0.65), "legal", "rewrite that more formally", "legal", True),
        (_scores(0.05, 0.15, 0.80), "technical", "give me an example with numbers", "technical", True),
        # no cue, but no clear domain either: the prior holds (odds 0.6/0.3 = 2 < 8)
        (_scores(0.30, 0.10, 0.60), "legal", "which one is cheaper to set up?", "legal", True),
        # a turn that is clearly elsewhere switches, cue or not
        (_scores(0.96, 0.02, 0.02), "technical", "Can my landlord keep my deposit for normal wear?", "legal", False),
        (_scores(0.02, 0.95, 0.03), "general", "Escribe una función en JavaScript que haga debounce", "technical",
         False),
        # an announced change of subject switches to the turn's own domain
        (_scores(0.10, 0.20, 0.70), "technical", "Totally unrelated, what's a good lentil soup?", "general", False),
        (_scores(0.15, 0.25, 0.60), "legal", "Nada que ver, ¿me das una receta de lentejas?", "general", False),
        # the turn agrees with the thread, or there is no thread yet: the thread has no say
        (_scores(0.10, 0.80, 0.10), "technical", "and in Go?", "technical", False),
        (_scores(0.10, 0.20, 0.70), None, "make it faster", "general", False),
    ],
)
def test_with_thread(scores, thread, text, domain, kept):
    route = C.with_thread(scores, thread, text)
    assert (route.domain, route.kept) == (domain, kept)
    assert bool(route.why) == (thread is not None and thread != max(scores, key=scores.__getitem__))


def test_without_cues_only_the_prior_decides():
    scores = _scores(0.85, 0.08, 0.07)  # odds 10.6 against the thread: over 8 without cues, under 38 with them
    assert C.with_thread(scores, "technical", "and what about the licence?").domain == "technical"
    assert C.with_thread(scores, "technical", "and what about the licence?", use_cues=False).domain == "legal"


def test_scoring_the_catch_all_is_weak_evidence_of_leaving_the_thread():
    scores = _scores(0.03, 0.03, 0.94)  # "make it faster" alone: general, as contentless turns are
    assert C.with_thread(scores, "technical", "write three unit tests for it").domain == "technical"
    assert C.with_thread(_scores(0.005, 0.005, 0.99), "technical", "Who painted the Mona Lisa?").domain == "general"


@pytest.mark.parametrize(
    "margin, seconds, expected",
    [(0.0, 10.0, 0.0), (0.2, None, 0.2), (0.2, 5.0, 0.2), (0.2, 20.0, 0.2), (0.2, 2.5, 0.1), (0.2, 0.0, 0.0)],
)
def test_effective_margin_scales_with_the_measured_swap(margin, seconds, expected):
    assert C.effective_margin(margin, seconds) == pytest.approx(expected)


@pytest.mark.parametrize(
    "scores, resident, by, margin, domain, saved",
    [
        (_scores(0.30, 0.38, 0.32), {"general"}, "classifier", 0.1, "general", True),  # close: stay
        (_scores(0.45, 0.40, 0.15), {"technical"}, "classifier", 0.1, "technical", True),
        (_scores(0.20, 0.60, 0.20), {"general"}, "classifier", 0.1, "technical", False),  # clear: swap
        (_scores(0.30, 0.38, 0.32), {"technical"}, "classifier", 0.1, "technical", False),  # top is resident
        (_scores(0.30, 0.38, 0.32), {"legal"}, "classifier", 0.1, "technical", False),  # resident is third
        (_scores(0.30, 0.38, 0.32), {"general"}, "classifier", 0.0, "technical", False),  # off
        (_scores(0.30, 0.38, 0.32), {"general"}, "override", 0.5, "technical", False),  # explicit routes
        (_scores(0.30, 0.38, 0.32), {"general"}, "feedback", 0.5, "technical", False),
        (_scores(0.30, 0.38, 0.32), set(), "classifier", 0.5, "technical", False),  # nothing resident
    ],
)
def test_prefer_resident(scores, resident, by, margin, domain, saved):
    choice = C.prefer_resident(scores, resident, by, margin)
    assert (choice.domain, choice.saved) == (domain, saved)
    assert bool(choice.why) == saved


@pytest.mark.parametrize(
    "labels, sims, avoid, expected",
    [
        (["legal"], [0.9], [False], ("legal", 0.9, False)),
        (["legal", "technical", "technical"], [0.9, 0.8, 0.8], [False] * 3, ("technical", 0.9, False)),
        (["legal", "legal"], [0.85, 0.8], [True, False], ("legal", 0.85, True)),
        (["legal", "legal"], [0.8, 0.8], [True, False], ("legal", 0.8, False)),  # a tie prefers the positive
    ],
)
def test_vote_of_corrected_neighbours(labels, sims, avoid, expected):
    assert S.vote(labels, sims, avoid) == expected


def test_combine_is_a_normalised_product_of_experts():
    a, b = np.array([0.6, 0.3, 0.1]), np.array([0.2, 0.7, 0.1])
    out = S.combine(a, b, np.array([1.0, 1.0, 0.0, 0.0, 0.0]))
    assert out.sum() == pytest.approx(1.0) and int(out.argmax()) == 1
    assert S.combine(a, b, np.array([1.0, 0.0, 0.0, 0.0, 0.0])) == pytest.approx(a, rel=1e-4)


def test_fit_stack_learns_to_trust_the_model_that_is_right():
    rng = np.random.default_rng(0)
    truth = list(rng.choice(["general", "legal", "technical"], 300))
    index = {"general": 0, "legal": 1, "technical": 2}
    right = np.full((300, 3), 0.1)
    right[np.arange(300), [index[t] for t in truth]] = 0.8
    noise = rng.dirichlet(np.ones(3), 300)
    stack = S.fit_stack(noise, right, truth, ("general", "legal", "technical"))
    assert stack[1] > 3 * abs(stack[0])
