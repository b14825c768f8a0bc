"""Classification metrics shared by the evaluations (scikit-learn's, in one JSON-ready shape)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DOMAINS = ("legal", "technical", "general")


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON-lines file. Split on newlines only: str.splitlines() also splits on U+2028 and
    friends, which appear inside real questions."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").split("\n") if line.strip()]


def classification(truth: list[str], predicted: list[str], labels=DOMAINS) -> dict:
    """n, accuracy, macro-F1, per-domain precision/recall/F1/support and the confusion matrix (truth -> predicted)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    if not truth:
        return {"n": 0}
    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels,
                                                                     zero_division=0)
    matrix = confusion_matrix(truth, predicted, labels=labels)
    present = support > 0  # macro over the domains this sample has
    return {
        "n": len(truth),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(np.mean(f1[present])), 4),
        "per_domain": {d: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                           "support": int(s)} for d, p, r, f, s in zip(labels, precision, recall, f1, support)},
        "confusion": {t: {p: int(matrix[i, j]) for j, p in enumerate(labels)} for i, t in enumerate(labels)},
    }


def latency_ms(seconds: list[float]) -> dict:
    if not seconds:
        return {"p50_ms": None, "p99_ms": None}
    ms = np.array(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def wilson(k: int, n: int, confidence: float = 0.95) -> list[float] | None:
    """The Wilson score interval for k successes in n trials ([low, high], 3 decimals; None for n = 0): the
    interval that stays sensible for small samples and rates near 0 or 1 (scipy's binomtest)."""
    from scipy.stats import binomtest

    if n == 0:
        return None
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return [round(float(ci.low), 3), round(float(ci.high), 3)]
