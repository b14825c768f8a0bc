"""0001: runs, node_runs, reviews, feedback, with their indexes (the ledger as concilio 0.1 made it).

A frozen copy of the tables at this revision, in Alembic's portable operations: later revisions change them
with further steps, never by editing this one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("thread_id", sa.String(128)),
        sa.Column("turn", sa.Integer),
        sa.Column("started_at", sa.DateTime),
        sa.Column("profile", sa.String(128)),
        sa.Column("question", sa.Text),
        sa.Column("language", sa.String(8)),
        sa.Column("domain", sa.String(16)),
        sa.Column("confidence", sa.Float),
        sa.Column("routed_by", sa.String(16)),
        sa.Column("node", sa.String(16)),
        sa.Column("verdict", sa.String(16)),
        sa.Column("revisions", sa.Integer),
        sa.Column("swaps", sa.Integer),
        sa.Column("seconds", sa.Float),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_runs_thread_id", "runs", ["thread_id"])
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_table(
        "node_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
        sa.Column("seq", sa.Integer),
        sa.Column("node", sa.String(32)),
        sa.Column("role", sa.String(32)),
        sa.Column("model", sa.String(256)),
        sa.Column("backend", sa.String(32)),
        sa.Column("domain", sa.String(16)),
        sa.Column("tokens_in", sa.Integer),
        sa.Column("tokens_out", sa.Integer),
        sa.Column("seconds", sa.Float),
        sa.Column("load_seconds", sa.Float),
        sa.Column("swapped", sa.Boolean),
        sa.Column("skipped", sa.Boolean),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_node_runs_run_id", "node_runs", ["run_id"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
        sa.Column("seq", sa.Integer),
        sa.Column("draft_model", sa.String(256)),
        sa.Column("reviewer_model", sa.String(256)),
        sa.Column("verdict", sa.String(16)),
        sa.Column("verdict_by", sa.String(16)),
        sa.Column("issues", sa.Text),
    )
    op.create_index("ix_reviews_run_id", "reviews", ["run_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("thread_id", sa.String(128)),
        sa.Column("turn", sa.Integer),
        sa.Column("at", sa.DateTime),
        sa.Column("verdict", sa.String(8)),
        sa.Column("domain", sa.String(16)),
    )
    op.create_index("ix_feedback_thread_id", "feedback", ["thread_id"])
