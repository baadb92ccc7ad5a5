"""Alembic migrations of the service database (``python -m <package> migrate``)."""
