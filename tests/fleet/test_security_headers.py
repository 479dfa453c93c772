"""Operator security: headers on the console and API (fleet/server/security_headers.py), login throttling and lockout (fleet/server/login_throttle.py)."""

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


def test_login_throttling_locks_out_audits_and_lets_in_after_the_lockout(fleet_pki, mosquitto, tmp_path):
    import httpx

    from fleet.server.testing import PASSWORDS, FleetHarness

    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'fleet.db'}").start()
    now = [1000.0]
    harness.server.login_throttle.clock = lambda: now[0]
    try:
        with httpx.Client(base_url=harness.url, timeout=10) as web:
            for _ in range(5):
                assert web.post("/api/login", json={"username": "operator", "password": "wrong"}).status_code == 401
            right = {"username": "operator", "password": PASSWORDS["operator"]}
            assert web.post("/api/login", json=right).status_code == 401  # locked: even the right password
            console = web.post("/console/login", data={"username": "operator", "password": PASSWORDS["operator"]},
                               follow_redirects=False)
            assert console.status_code == 200 and "fleet_session" not in console.cookies  # the console shares it
            now[0] += 901
            assert web.post("/api/login", json=right).status_code == 200
        audit = [(e["action"], e["outcome"]) for e in harness.client("admin").get("/api/audit").json()]
        assert audit.count(("login_failed", "denied")) == 5 and audit.count(("login_locked", "denied")) == 2
        assert ("login", "ok") in audit
    finally:
        harness.stop()
