"""The GPU slot: who holds the accelerator, what stays loaded, what is read ahead.

slot.py (the lock and its side effects), policy.py (pure decisions, tested by tables), prefetch.py (page-cache
read-ahead of the next model's file), memory_need.py (what a model needs before it is loaded).
"""
