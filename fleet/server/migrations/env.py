"""Alembic environment: runs on the connection `fleet.server.db.migrate` hands over,
or, from the alembic command line, on `sqlalchemy.url` / $FLEET_DB_URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from fleet.server import models_history  # noqa: F401  (its tables are in Base.metadata)
from fleet.server.models import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
elif context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url") or os.environ["FLEET_DB_URL"],
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or os.environ["FLEET_DB_URL"])
    with engine.begin() as conn:
        run_on(conn)
