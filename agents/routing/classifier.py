"""The analyze step's learned router over legal / technical / general, in both languages.

Fast tier: a logistic regression over word and character n-grams of the accent-folded text, plus tags from a
bilingual domain lexicon (agents/routing/data/lexicon.json) and code-shape signals. When it is unsure (below
`GATE`), sentence embeddings are asked too (agents/routing/semantic.py) and both are stacked with weights
fitted out of fold: n-grams know the training vocabulary, embeddings carry over to new wording. The router
returns *scores*; the threshold that turns a score into "sure enough, or ask the orchestrator model" is separate and
fitted on out-of-fold predictions (RouteLLM's split).

Corrections (feedback, overrides, reviewer confirmations) are examples too, weighted: a near-duplicate of
a corrected question takes the corrected route at once (by="feedback"), so does a close neighbour in
embedding space (corrections are labelled exemplars), and every refit includes them in both models, so
questions of the same kind move as well. Loading, caching and storing corrections live in agents/routing/store.py.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from agents.routing.signals import fold

DOMAINS = ("legal", "technical", "general")
ROUTE_CHARS = 3000  # very long input is routed on its head and tail
SIMILAR = 0.8  # cosine similarity at which a corrected question decides for a new one
WEIGHTS = {"data": 1.0, "good": 1.0, "feedback": 4.0, "override": 4.0, "review": 0.5}
TARGET_PRECISION = 0.95  # the threshold keeps classifier decisions at least this accurate (out of fold)

_TOKEN = re.compile(r"[a-z0-9_+#]+")
_TAGS = "\x1f"  # separates the text from its tags in prepare()'s output (control characters are removed)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CODE = re.compile(
    r"```|\bdef \w+\(|\bfunction \w+\(|#include|\bimport \w+|\w+\([^()]*\)\s*[:{]|==|!=|->|=>|&&|\|\||"
    r"</?[a-z]+[^>]*>|^\s*(?:for|while|if)\b.*[:{]\s*$|;\s*$|^\s*>>> ", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    text: str
    domain: str
    source: str = "data"  # data | good | feedback | override | review
    weight: float = 1.0
    avoid: bool = False  # "not this domain": bad feedback that named no better one
    id: str = ""


@dataclass(frozen=True)
class Decision:
    domain: str
    confidence: float
    scores: dict[str, float]
    by: str  # "classifier" | "feedback"
    note: str = ""
    tier: str = "ngram"  # "ngram" (the fast path) | "embeddings" (the n-gram was unsure: both, stacked)


def correction(text: str, domain: str, source: str, *, avoid: bool = False) -> Example:
    if domain not in DOMAINS:
        raise ValueError(f"domain is one of {', '.join(DOMAINS)}, not {domain!r}")
    return Example(text, domain, source, WEIGHTS[source], avoid)


@cache
def lexicon() -> dict[str, str]:
    """Folded term -> domain, from agents/routing/data/lexicon.json; terms listed under two domains are dropped."""
    raw = json.loads(resources.files("agents.routing").joinpath("data/lexicon.json").read_text("utf-8"))
    seen: dict[str, set[str]] = {}
    for domain, by_language in raw.items():
        for terms in by_language.values():
            for term in terms:
                seen.setdefault(" ".join(_TOKEN.findall(fold(term))), set()).add(domain)
    return {term: next(iter(ds)) for term, ds in seen.items() if term and len(ds) == 1}


def clip(text: str) -> str:
    text = _CONTROL.sub(" ", text)
    if len(text) <= ROUTE_CHARS:
        return text
    return text[: ROUTE_CHARS * 2 // 3] + " " + text[-ROUTE_CHARS // 3:]


def prepare(text: str) -> str:
    """What the classifier reads: clipped, folded text plus one tag per lexicon term and one for code."""
    clipped = clip(text)
    folded = fold(clipped)
    words, terms, tags = _TOKEN.findall(folded), lexicon(), []
    for n in (1, 2, 3):
        for i in range(len(words) - n + 1):
            domain = terms.get(" ".join(words[i:i + n]))
            if domain:
                tags.append(f"zz{domain}zz")
    if _CODE.search(clipped):
        tags.append("zzcodezz")
    return folded + _TAGS + " ".join(tags)


def fit_threshold(confidence: np.ndarray, correct: np.ndarray, target: float = TARGET_PRECISION) -> float:
    """The lowest confidence at which decisions that sure are still `target` accurate (pure).

    Decisions are sorted by confidence; the threshold is the confidence of the last decision for which the
    running accuracy of everything at or above it meets the target. 1.0 when even the surest miss it.
    """
    if len(confidence) == 0:
        return 1.0
    order = np.argsort(-confidence, kind="stable")
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(running >= target)[0]
    return float(confidence[order][ok[-1]]) if len(ok) else 1.0


@cache
def stop_words() -> frozenset[str]:
    """English and Spanish function words (the stop-words package), folded, minus the lexicon's terms.

    Without them, Spanish questions lean towards whichever domain has the longest Spanish training texts."""
    from stop_words import get_stop_words

    words = {w for lang in ("en", "es") for term in get_stop_words(lang) for w in _TOKEN.findall(fold(term))}
    return frozenset(words - set(lexicon()))


def _content(prepared: str) -> str:
    """The text part of prepare()'s output without stop words: what the character n-grams see."""
    stop = stop_words()
    return " ".join(w for w in _TOKEN.findall(prepared.split(_TAGS, 1)[0]) if w not in stop)


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    words = TfidfVectorizer(token_pattern=r"[a-z0-9_+#]+", ngram_range=(1, 2), sublinear_tf=True,
                            lowercase=False, stop_words=sorted(stop_words()))
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, lowercase=False,
                            min_df=2, preprocessor=_content)
    return make_union(words, chars)


GATE = 0.8  # n-gram confidence at or above which the fast path decides alone (no embedding)
# all-MiniLM-L6-v2 was trained on English: on Spanish its vectors are a weaker second opinion, so a Spanish
# question consults them only when the n-gram model is less sure. Chosen on routing_parallel/practical's
# Spanish rows (macro-F1 0.911 at 0.8, 0.931 at 0.6, 0.933 at 0.5): see evals/data/README.md.
SPANISH_GATE = 0.6
NEAR_CORRECTION = 0.3  # n-gram similarity to a stored correction that also sends a question to the embeddings


class Router:
    """A fitted classifier plus its corrections. `decide()` is cheap; `refit_on()` refits (seconds).

    Two tiers: the n-gram model decides alone when it is sure (`gate`); otherwise the sentence-embedding head
    (agents/routing/semantic.py) is consulted and both are stacked with weights fitted out of fold (`stack`).
    `semantic=False` is the n-gram model alone (the baseline, and what runs where the embedder is missing)."""

    def __init__(self, examples: list[Example], *, threshold: float = 0.0, c: float = 10.0,
                 stack=None, gate: float = GATE, semantic: bool = True) -> None:
        self.examples = list(examples)
        self.threshold = threshold
        self.c = c
        self.stack = stack
        self.gate = gate
        self.semantic = semantic and _embeddings_available()
        self._fit()

    def _fit(self) -> None:
        from sklearn.linear_model import LogisticRegression

        labelled = [e for e in self.examples if not e.avoid]
        self.vectorizer = _vectorizer()
        matrix = self.vectorizer.fit_transform([prepare(e.text) for e in labelled])
        self.model = LogisticRegression(C=self.c, class_weight="balanced", max_iter=5000)
        self.model.fit(matrix, [e.domain for e in labelled], sample_weight=[e.weight for e in labelled])
        self.head = None
        if self.semantic:
            from agents.routing import semantic

            vectors = semantic.seen_vectors([e.text for e in labelled])
            self.head = semantic.Head.fit(vectors, [e.domain for e in labelled], [e.weight for e in labelled])
            assert self.head.classes == tuple(str(d) for d in self.model.classes_)
        self._remember()

    def _remember(self) -> None:
        self.corrections = [e for e in self.examples if e.source != "data"]
        self._memory = (self.vectorizer.transform([prepare(e.text) for e in self.corrections])
                        if self.corrections else None)
        if self.head is not None:
            from agents.routing import semantic

            vectors = semantic.encode([e.text for e in self.corrections]) if self.corrections else None
            self.head = self.head.remember(vectors if vectors is not None else self.head.exemplars[:0],
                                           [e.domain for e in self.corrections], [e.avoid for e in self.corrections])

    def ngram_proba(self, text: str):
        row = self.vectorizer.transform([prepare(text)])
        return row, self.model.predict_proba(row)[0]

    def decide(self, text: str) -> Decision:
        row, probs = self.ngram_proba(text)
        classes = [str(d) for d in self.model.classes_]
        scores = dict(zip(classes, map(float, probs)))
        similarity = self._similarity(row) if self._memory is not None else np.zeros(0)
        nearest = self._nearest(similarity)
        if nearest is not None:
            return _followed(scores, *nearest, "")
        near_correction = bool(len(similarity)) and float(similarity.max()) >= NEAR_CORRECTION
        if self.head is None or not (near_correction or _unsure(float(max(probs)), text, self.gate)):
            domain = max(scores, key=scores.__getitem__)
            return Decision(domain, scores[domain], scores, "classifier", tier="ngram")
        from agents.routing import semantic

        vector = semantic.encode([text])[0]
        sem = self.head.proba(vector)
        stack = self.stack if self.stack is not None else np.array([1.0, 1.0, 0.0, 0.0, 0.0])
        mixed = semantic.combine(probs, sem, np.asarray(stack))
        scores = dict(zip(classes, map(float, mixed)))
        why = "n-gram " + ", ".join(f"{d} {p:.2f}" for d, p in zip(classes, probs))
        neighbour = self.head.neighbours(vector)
        if neighbour is not None:
            domain, sim, avoid = neighbour
            example = Example("", domain, "feedback", avoid=avoid)
            return _followed(scores, example, sim, "embedding ", tier="embeddings")
        domain = max(scores, key=scores.__getitem__)
        return Decision(domain, scores[domain], scores, "classifier", why, tier="embeddings")

    def _nearest(self, similarity: np.ndarray) -> tuple[Example, float] | None:
        if not len(similarity):
            return None
        best = len(similarity) - 1 - int(np.argmax(similarity[::-1]))  # the latest among equals
        return (self.corrections[best], float(similarity[best])) if similarity[best] >= SIMILAR else None

    def _similarity(self, row) -> np.ndarray:
        """Cosine similarity of `row` to each stored correction, on the n-gram blocks."""
        from sklearn.metrics.pairwise import cosine_similarity

        return cosine_similarity(self._memory, row).ravel()

    def refit_on(self, examples: list[Example]) -> Router:
        """A router fitted on `examples`, keeping this one's threshold, stacking and regularisation."""
        return Router(examples, threshold=self.threshold, c=self.c, stack=self.stack, gate=self.gate,
                      semantic=self.semantic)

    def with_corrections(self, corrections: list[Example]) -> Router:
        """A copy that also remembers `corrections` without refitting: near-duplicates of a corrected question
        (and, in embedding space, its close neighbours) follow it at once (this router is left as it is)."""
        router = copy.copy(self)
        router.examples = [*self.examples, *corrections]
        router._remember()
        return router


def _embeddings_available() -> bool:
    from agents.routing import semantic

    return semantic.available()


def _unsure(confidence: float, text: str, gate: float = GATE) -> bool:
    """Whether the n-gram model's confidence is below the gate for this text's language (see SPANISH_GATE).
    The language is only looked up when it matters (between the two gates)."""
    if confidence >= gate:
        return False
    if confidence < SPANISH_GATE:
        return True
    from agents.routing.language import detect

    return detect(text)[0] != "es"


def _followed(scores: dict[str, float], example: Example, similarity: float, space: str,
              tier: str = "ngram") -> Decision:
    """The decision a similar corrected question dictates (pure)."""
    if example.avoid:
        scores = {d: (0.0 if d == example.domain else p) for d, p in scores.items()}
        total = sum(scores.values()) or 1.0
        scores = {d: p / total for d, p in scores.items()}
        domain = max(scores, key=scores.__getitem__)
        return Decision(domain, scores[domain], scores, "feedback",
                        f"a similar question was marked bad on {example.domain} ({space}{similarity:.2f})", tier)
    return Decision(example.domain, max(similarity, scores[example.domain]), scores, "feedback",
                    f"a similar question was corrected to {example.domain} ({space}{similarity:.2f})", tier)


def out_of_fold(examples: list[Example], folds: int = 5, c: float = 10.0, on_step=None,
                semantic: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Confidence and correctness of each data example's routing by a router that didn't see it, and the
    stacking weights fitted on those out-of-fold predictions (None without embeddings).
    `on_step(i, folds + 1)` is called as each fold starts (progress; build() is the last step)."""
    from sklearn.model_selection import StratifiedKFold

    from agents.routing import semantic as sem

    semantic = semantic and sem.available()
    data = [e for e in examples if e.source == "data"]
    labels = np.array([e.domain for e in data])
    ngram, embedded = np.zeros((len(data), len(DOMAINS))), np.zeros((len(data), len(DOMAINS)))
    splits = StratifiedKFold(folds, shuffle=True, random_state=0).split(np.zeros(len(data)), labels)
    classes: tuple[str, ...] = ()
    for step, (train, test) in enumerate(splits, 1):
        if on_step is not None:
            on_step(step, folds + 1)
        router = Router([data[i] for i in train], c=c, semantic=semantic)
        classes = tuple(str(d) for d in router.model.classes_)
        for i in test:
            ngram[i] = router.ngram_proba(data[i].text)[1]
        if semantic:
            embedded[test] = router.head.model.predict_proba(sem.seen_vectors([data[i].text for i in test]))
    stack = sem.fit_stack(ngram, embedded, list(labels), classes) if semantic else None
    final = ngram.copy()
    if semantic:
        unsure = np.array([_unsure(float(p.max()), e.text) for p, e in zip(ngram, data)], dtype=bool)
        final[unsure] = [sem.combine(ngram[i], embedded[i], stack) for i in np.nonzero(unsure)[0]]
    predicted = np.array(classes)[final.argmax(1)]
    return final.max(1), predicted == labels, stack


def build(examples: list[Example], *, c: float = 10.0, on_step=None, semantic: bool = True) -> Router:
    """A router on all examples, its stacking and threshold fitted on out-of-fold predictions
    (`on_step(i, n)`: progress)."""
    folds = 5
    confidence, correct, stack = out_of_fold(examples, folds=folds, c=c, on_step=on_step, semantic=semantic)
    if on_step is not None:
        on_step(folds + 1, folds + 1)
    return Router(examples, threshold=fit_threshold(confidence, correct), c=c, stack=stack, semantic=semantic)
