"""Operator security: headers on the console and API (fleet/server/security_headers.py). Login
throttling, lockout, sessions and tokens: tests/fleet/test_operator_security.py."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi.testclient import TestClient

from fleet.server.webapp import create_app


def test_console_and_api_responses_carry_the_security_headers():
    client = TestClient(create_app(SimpleNamespace()))
    for path in ("/console/login", "/api/me"):
        response = client.get(path, follow_redirects=False)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "'unsafe-eval'" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
