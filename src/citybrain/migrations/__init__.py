"""Alembic migrations (run with ``citybrain db upgrade``)."""
