"""Routing a question: the learned classifier, its store and data, and the signals it uses.

classifier.py (the bilingual n-gram model and its stacking with the embedding tier, pure), semantic.py (sentence
embeddings, loaded lazily), context.py (routing with the thread and the resident model, pure), store.py (fitting,
caching, corrections on disk), signals.py (accent folding, complexity), language.py (es/en detection).
"""
