"""The service's database: engine, tables, the item repository and Alembic migrations."""

import logging

# Alembic announces each of its autogenerate plugins at INFO when it is imported (seven lines
# at every start of the embedded database); its migration lines ("Running upgrade ...") stay.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
