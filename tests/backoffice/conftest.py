"""Fixtures for the back-office tests: a real uvicorn server on a free loopback port with
a real SQLite file, and a client with short timeouts so fault tests stay quick."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

try:  # until pyproject.toml lists backoffice* in packages.find (editable install)
    import backoffice  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backoffice.app import Settings  # noqa: E402
from backoffice.server import BackgroundServer  # noqa: E402
from backoffice.testing import submissions  # noqa: E402
from flows.services import HttpBackOffice  # noqa: E402


@pytest.fixture
def start_backoffice(tmp_path):
    """Factory: start a server (Settings overrides as keywords); stopped after the test."""
    servers: list[BackgroundServer] = []

    def start(db: Path | None = None, **overrides) -> BackgroundServer:
        overrides.setdefault("pay_after_s", None)
        server = BackgroundServer(Settings(db_path=str(db or tmp_path / "backoffice.sqlite"), **overrides)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server per test module (starting and stopping costs ~0.2 s each)."""
    server = BackgroundServer(Settings(db_path=str(tmp_path_factory.mktemp("bo") / "shared.sqlite"), pay_after_s=None)).start()
    yield server
    server.stop()


@pytest.fixture
def server(shared_server) -> BackgroundServer:
    """The module's server with its faults cleared; tests tell their data apart by `keys`."""
    shared_server.app.faults.clear()
    yield shared_server
    shared_server.app.faults.clear()


class Keys:
    """Idempotency keys unique to one test, and that test's share of /v1/submissions."""

    def __init__(self) -> None:
        self.session = uuid.uuid4().hex[:12]

    def __call__(self, step: str) -> str:
        return f"{self.session}:{step}"

    def submissions(self, url: str) -> list[dict]:
        return [s for s in submissions(url) if s["idempotency_key"].startswith(self.session + ":")]


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
async def make_client():
    """Factory: an HttpBackOffice with test-sized timeouts and backoff; closed after the test."""
    clients: list[HttpBackOffice] = []

    def make(url: str, **options) -> HttpBackOffice:
        options = {"timeout": 1.0, "connect_timeout": 0.5, "retries": 3, "backoff_initial": 0.01, "backoff_max": 0.05, **options}
        client = HttpBackOffice(url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(server, make_client) -> HttpBackOffice:
    return make_client(server.url)
