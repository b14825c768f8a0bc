"""Shared conversation memory: checkpointers (SQLite) and, later, the cross-thread store."""
