"""Routing a question: the learned classifier, its store and data, and the signals it uses.

classifier.py (the bilingual n-gram model, pure), store.py (fitting, caching, corrections on disk),
signals.py (accent folding, complexity), language.py (es/en detection).
"""
