"""0002: runs.cache, what the response cache did for the run (hit-exact, hit-near, miss; NULL: no cache).

`concilio stats` and the Prometheus exporter count hits and misses from it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:  # batch: SQLite can't alter tables in place
        batch.add_column(sa.Column("cache", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("cache")
