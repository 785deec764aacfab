"""Alembic environment of the fleet database: always run with a connection handed over by the store.

``mlposture.fleet.store.migrate`` opens the connection (and, on PostgreSQL, takes an advisory lock) and passes it in
``config.attributes["connection"]``, so no ``alembic.ini`` or URL is read here.
"""

from __future__ import annotations

from alembic import context

from mlposture.fleet.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the fleet migrations run through mlposture.fleet.store.migrate, which passes a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
