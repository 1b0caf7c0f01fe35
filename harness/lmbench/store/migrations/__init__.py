"""Alembic environment for the results store (run programmatically by :mod:`lmbench.store.schema`)."""
