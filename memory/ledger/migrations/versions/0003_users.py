"""0003: runs.user_id and feedback.user_id, whose run or feedback it was on a shared deployment (NULL: the one
local user); thread_id widened to 200 characters, the longest id concilio accepts (PostgreSQL refused longer
than 128, so such a run was quarantined instead of counted).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("runs", "feedback")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:  # batch: SQLite can't alter tables in place
            batch.alter_column("thread_id", existing_type=sa.String(128), type_=sa.String(200))
            batch.add_column(sa.Column("user_id", sa.String(128), nullable=True))
            batch.create_index(f"ix_{table}_user_id", ["user_id"])


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_user_id")
            batch.drop_column("user_id")
            batch.alter_column("thread_id", existing_type=sa.String(200), type_=sa.String(128))
