"""Fixtures of the citizen-flow tests (helpers that are not fixtures: flow_support.py)."""

from __future__ import annotations

import pytest

from backoffice.app import Settings
from backoffice.server import BackgroundServer


@pytest.fixture
def backoffice(tmp_path):
    """The reference back office on a free loopback port with its own SQLite file; orders are paid at once."""
    server = BackgroundServer(Settings(db_path=str(tmp_path / "bo.sqlite"), pay_after_s=0)).start()
    yield server
    server.stop()
