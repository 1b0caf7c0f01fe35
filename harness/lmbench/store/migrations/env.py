"""Alembic environment: migrations run on the connection :func:`lmbench.store.schema.upgrade` passes in."""

from alembic import context

from lmbench.store.schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("lmbench's store migrations run through lmbench.store.schema.upgrade(connection)")
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
