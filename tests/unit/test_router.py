"""The learned router: its pure parts by table, and the real classifier fitted on the shipped data (built once
per machine into the cache folder), in Spanish and English, on bad input, and learning from corrections."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

from agents.routing import classifier as R
from agents.routing import store as router_store
from agents.routing.store import RouterRebuiltWarning


@pytest.fixture(scope="module")
def base():
    router_store.load_vectors()  # the training rows' sentence vectors: rebuilds below needn't encode them again
    return router_store.base()


@pytest.mark.parametrize(
    "confidence, correct, target, expected",
    [
        ([0.9, 0.8, 0.7, 0.6], [1, 1, 1, 1], 0.95, 0.6),  # all right: every decision stands
        ([0.9, 0.8, 0.7, 0.6], [1, 1, 1, 0], 0.95, 0.7),  # the least sure one is wrong
        ([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1], 0.75, 0.6),  # running accuracy 3/4 at 0.6 still meets 0.75
        ([0.9, 0.8], [0, 0], 0.5, 1.0),  # nothing is accurate enough: always ask
        ([], [], 0.9, 1.0),
    ],
)
def test_fit_threshold(confidence, correct, target, expected):
    assert R.fit_threshold(np.array(confidence), np.array(correct, dtype=bool), target) == expected


def test_prepare_folds_tags_lexicon_terms_and_code_and_clips():
    text = R.prepare("¿Puede el ARRENDADOR rescindir el contrato?")
    assert text.startswith("¿puede el arrendador rescindir el contrato?") and "zzlegalzz" in text
    assert "zzcodezz" in R.prepare("def add(a, b):\n    return a + b")
    assert "zzcodezz" not in R.prepare("What is the capital of France?")
    assert "\x00" not in R.prepare("bin\x00ary\x07")
    assert len(R.prepare("x" * 100_000)) < R.ROUTE_CHARS + 100


@pytest.mark.parametrize(
    "question, domain",
    [
        ("Can my landlord evict me without notice?", "legal"),
        ("¿Puede mi casero echarme del piso sin previo aviso?", "legal"),
        ("Me han despedido estando de baja, ¿es legal?", "legal"),
        ("What does habeas corpus protect?", "legal"),
        ("How do I reverse a linked list in Python?", "technical"),
        ("¿Cómo invierto una lista en Python?", "technical"),
        ("Mi contenedor de Docker no arranca: 'permission denied' en el socket", "technical"),
        ("Explain the difference between TCP and UDP", "technical"),
        ("What is the tallest mountain in the world?", "general"),
        ("¿Por qué el cielo es azul?", "general"),
        ("¿Cuál es la capital de Australia?", "general"),
        ("Give me a recipe for lentil soup", "general"),
    ],
)
def test_clear_questions_route_in_both_languages(base, question, domain):
    decision = base.decide(question)
    assert decision.domain == domain and decision.by == "classifier"
    assert set(decision.scores) == set(R.DOMAINS) and abs(sum(decision.scores.values()) - 1) < 1e-6


@pytest.mark.parametrize(
    "text",
    ["", "   ", "x" * 100_000, "\x00\x01\x02\xff\ufffd" * 50, "Привет 你好 مرحبا hello hola", "🙂" * 30,
     "contrato " * 20_000],
)
def test_bad_input_gets_a_route_with_a_confidence(base, text):
    decision = base.decide(text)
    assert decision.domain in R.DOMAINS and 0.0 <= decision.confidence <= 1.0


def test_the_threshold_is_fitted_and_sits_between_chance_and_certainty(base):
    assert 1 / 3 < base.threshold < 1.0


def test_a_correction_moves_similar_questions_at_once_and_by_refit():
    base = router_store.base()
    question = "How much notice must my employer give before changing my shift schedule?"
    before = base.decide(question)
    assert before.domain == "legal"
    router = base.with_corrections([R.correction(question, "general", "feedback")])
    assert base.decide(question).domain == "legal"  # the base is left as it was
    near = router.decide("How much notice must my employer give before changing my shift schedule??")
    assert near.domain == "general" and near.by == "feedback" and "corrected to general" in near.note
    assert router.decide("Can my landlord evict me without notice?").domain == "legal"  # unrelated: unmoved


def test_bad_feedback_without_a_domain_makes_similar_questions_avoid_the_route():
    question = "What is the tallest mountain in the world?"
    router = router_store.base().with_corrections([R.correction(question, "general", "feedback", avoid=True)])
    decision = router.decide(question)
    assert decision.domain != "general" and decision.by == "feedback" and decision.scores["general"] == 0.0


def test_corrections_are_stored_and_the_router_in_use_includes_them():
    question = "¿Qué diferencia hay entre un átomo y una molécula en química orgánica?"
    assert router_store.current().decide(question).domain == "general"
    router_store.learn(question, "technical", "override")
    assert router_store.read_corrections()[0].source == "override"
    decision = router_store.current().decide(question)
    assert decision.domain == "technical" and decision.by == "feedback"


def test_an_unreadable_correction_line_is_skipped_with_a_warning():
    router_store.learn("What is a tort?", "legal", "good")
    with router_store.corrections_path().open("a", encoding="utf-8") as out:
        out.write("{not json\n")
    with pytest.warns(RouterRebuiltWarning, match="skipped 1 unreadable"):
        assert [e.text for e in router_store.read_corrections()] == ["What is a tort?"]


def test_a_corrupt_router_file_is_rebuilt_from_data_with_a_warning():
    router_store.learn("What is a tort?", "legal", "good")
    router_store.current()
    (cached,) = router_store.routing_dir().glob("router-*.pkl")
    cached.write_bytes(b"\x80\x04 definitely not a pickle")
    router_store._current.clear()
    with pytest.warns(RouterRebuiltWarning, match="unreadable.*rebuilding"):
        router = router_store.current()
    assert router.decide("What is a tort?").domain == "legal"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(pickle.loads(cached.read_bytes()), R.Router)  # rewritten, loads cleanly again


def test_a_corrupt_base_router_is_rebuilt_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCILIO_CACHE_DIR", str(tmp_path))
    path = router_store.base_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"not": "a router"}))
    with pytest.warns(RouterRebuiltWarning, match="holds a dict"):
        router = router_store.base()
    assert router.decide("¿Puede mi casero echarme sin previo aviso?").domain == "legal"


def test_a_router_cached_before_the_package_move_is_rebuilt_with_a_warning(tmp_path, monkeypatch):
    """Routers pickled before agents/routing/ existed name `agents.router.Router`; they are rebuilt, not fatal."""
    monkeypatch.setenv("CONCILIO_CACHE_DIR", str(tmp_path))
    path = router_store.base_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x80\x02cagents.router\nRouter\n)\x81}b.")  # what pickle wrote for the old module
    with pytest.warns(RouterRebuiltWarning, match="ModuleNotFoundError.*agents.router.*rebuilding"):
        router = router_store.base()
    assert router.decide("How do I reverse a list in Python?").domain == "technical"
    assert isinstance(pickle.loads(path.read_bytes()), R.Router)


def test_the_embedder_loads_lazily_never_at_import():
    code = ("import sys; import agents.routing.store, agents.routing.semantic, agents.roles.orchestrator, "
            "graphs.cooperation; assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_sure_questions_take_the_fast_path_and_unsure_ones_ask_the_embeddings(base):
    assert base.stack is not None and len(base.stack) == 2 + len(R.DOMAINS)
    sure = base.decide("¿Puede mi casero echarme del piso sin previo aviso?")
    assert sure.tier == "ngram" and sure.confidence >= base.gate
    unsure = next(d for d in map(base.decide, EXAM_STEMS) if d.tier == "embeddings")
    assert "n-gram" in unsure.note and abs(sum(unsure.scores.values()) - 1) < 1e-6


EXAM_STEMS = [
    "The power factor of a purely inductive load is",
    "Which property of a hash function makes it hard to find two inputs with the same digest?",
    "In a pipelined processor, a data hazard occurs when",
    "El factor de potencia de una carga puramente inductiva es",
    "Which of the following best describes the result of the operation?",
]


def test_a_correction_moves_its_neighbours_in_meaning_not_only_its_duplicates(base):
    router = base.with_corrections([R.correction("How do I bake sourdough bread at home?", "legal", "feedback")])
    near = router.decide("Any tips for making a sourdough loaf in a home oven?")  # few words in common
    assert near.domain == "legal" and near.by == "feedback" and "embedding" in near.note
    assert near.tier == "embeddings"
    assert router.decide("How do I reverse a linked list in Python?").domain == "technical"  # far: unmoved


def test_without_the_embedder_package_the_router_is_the_n_gram_model_alone(monkeypatch):
    from agents.routing import semantic

    monkeypatch.setattr(semantic, "available", lambda: False)
    rows = [e for e in router_store.training_examples() if e.source == "data"]
    router = R.Router([e for d in R.DOMAINS for e in [r for r in rows if r.domain == d][:12]])
    assert router.head is None and not router.semantic
    decision = router.decide("The power factor of a purely inductive load is")
    assert decision.tier == "ngram" and decision.domain in R.DOMAINS
