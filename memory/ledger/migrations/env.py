"""Alembic's entry point for the ledger: always run from code (memory.ledger.schema.migrate), on the connection
it passes in `config.attributes`, never from an alembic.ini."""

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, version_table=config.attributes["version_table"],
                  transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
