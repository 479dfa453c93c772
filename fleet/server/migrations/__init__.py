"""Alembic migrations of the fleet server database (a package so it ships in wheels)."""
