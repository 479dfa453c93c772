"""Opening the database: engine per URL, SQLite tuned for several threads, migrations.

SQLite is the default (one file, no service); PostgreSQL is chosen by URL
(`postgresql+psycopg://user@host:port/db`). Both get their schema from the same Alembic
migrations, run at start-up by `migrate()`, so a server never runs on an old schema.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///fleet.db"


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite connections get WAL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               json_serializer=_json_dumps, json_deserializer=orjson.loads)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # why: many threads write (ingest, API)
            cursor = dbapi_connection.cursor()
            if parsed.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, json_serializer=_json_dumps,
                         json_deserializer=orjson.loads)


def _json_dumps(value) -> str:
    """JSON columns through orjson (several times faster than json.dumps at ingest rates;
    reading them back through orjson.loads is what keeps a page of 200 kiosks' health cheap)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """The engine and a session factory; `session()` is one unit of work (commit or roll back)."""

    def __init__(self, url: str = DEFAULT_URL, *, run_migrations: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if run_migrations:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @property
    def backend(self) -> str:
        return self.engine.url.get_backend_name()

    def close(self) -> None:
        self.engine.dispose()


def new_revision(url: str, message: str) -> None:
    """Autogenerate a migration from the difference between `models.py` and the database
    at `url` (which must be at the current head). Review the file it writes: migrations
    must not import fleet.server.models (write sa.DateTime(timezone=True) for UtcDateTime)."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(url)
    migrate(engine)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


if __name__ == "__main__":  # python -m fleet.server.db upgrade|revision URL [MESSAGE]
    import sys

    if len(sys.argv) >= 3 and sys.argv[1] == "upgrade":
        migrate(make_engine(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "revision":
        new_revision(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m fleet.server.db upgrade URL | revision URL MESSAGE")
