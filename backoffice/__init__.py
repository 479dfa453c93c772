"""Reference back office for the kiosk: traffic management, tax, post and payment behind
one HTTP API (FastAPI + SQLite), with realistic validation, deterministic seeded data,
Idempotency-Key handling and fault injection. See docs/backoffice.md.

Run: `kiosk-backoffice --port 8700 --db backoffice.sqlite` (or `python -m backoffice.cli`).
"""

from backoffice.app import BackOfficeApp, Settings, create_app

__all__ = ["BackOfficeApp", "Settings", "create_app"]
