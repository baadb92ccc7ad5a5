"""The service's database: engine, tables, the item repository and Alembic migrations."""
