"""Operator security without a broker: the FleetServer's web app over its real database.

Login throttling and lockout kept in the database (shared by server processes, kept
across a restart) with audit; revoking login sessions (a revoked cookie or bearer stops
at the next request; a password change revokes the other sessions); API tokens
(revocation, role scope, expiry, hashed storage, shown once); the console page and the
CLI for them. Security headers: tests/fleet/test_security_headers.py.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from fleet.server.login_throttle import LoginThrottle
from fleet.server.models import ApiToken, AuditEntry, LoginSession, LoginThrottleState
from fleet.server.service import FleetServer, ServerSettings
from fleet.server.webapp import create_app

PASSWORD = {"admin": "admin-pass-1", "operator": "operator-pass-1", "viewer": "viewer-pass-1"}


def make_server(db_url: str, tmp_path, *, users: bool = True) -> FleetServer:
    server = FleetServer(ServerSettings(db_url=db_url, artifact_dir=tmp_path / "artifacts"))
    if users:
        for role, password in PASSWORD.items():
            server.auth.create_operator(role, password, role)
    return server


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch):
    """These tests are about sessions, tokens and lockout, not Argon2's cost: a cheap
    profile keeps them fast (the server uses argon2-cffi's RFC 9106 default)."""
    from argon2 import PasswordHasher

    from fleet.server import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def server(tmp_path):
    server = make_server(f"sqlite:///{tmp_path / 'fleet.db'}", tmp_path)
    yield server
    server.close()


def login(server, role: str, *, cookie: bool = False) -> TestClient:
    client = TestClient(create_app(server))
    response = client.post("/api/login", json={"username": role, "password": PASSWORD[role]})
    assert response.status_code == 200, response.text
    if not cookie:
        client.cookies.clear()
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return client


def audit_actions(server) -> list[tuple[str, str, str]]:
    with server.db.session() as s:
        return [(e.operator, e.action, e.outcome) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


# ------------------------------------------------------------------ throttle and lockout


def test_lockout_is_in_the_database_shared_by_processes_and_kept_across_a_restart(db_url, tmp_path):
    now = [dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)]
    clock = lambda: now[0]  # noqa: E731
    first, second = make_server(db_url, tmp_path, users=False), make_server(db_url, tmp_path, users=False)
    try:
        a, b = LoginThrottle(first.db, clock=clock), LoginThrottle(second.db, clock=clock)
        for _ in range(2):
            assert not a.failed("operator", "10.0.0.1")
            assert not b.failed("operator", "10.0.0.2")  # 4 failures of one username, 2 addresses
        assert not a.locked("operator", "10.0.0.3")
        assert b.failed("operator", "10.0.0.3")  # the 5th, counted in the other process, locks it
        assert a.locked("operator") and b.locked("operator")
        second.close()
        restarted = LoginThrottle(make_server(db_url, tmp_path, users=False).db, clock=clock)
        assert restarted.locked("operator", "10.0.0.9")  # a restart forgets nothing
        now[0] += dt.timedelta(seconds=899)
        assert restarted.locked("operator")
        now[0] += dt.timedelta(seconds=2)
        assert not restarted.locked("operator") and not a.locked("operator")
        for user in ("u1", "u2", "u3", "u4"):  # one address spraying usernames is locked too
            assert not a.failed(user, "10.9.9.9")
        assert a.failed("u5", "10.9.9.9") and b.locked("someone-else", "10.9.9.9")
        assert not b.locked("someone-else", "10.9.9.8")
        now[0] += dt.timedelta(seconds=901)
        a.succeeded("operator")  # a login: spent windows and lockouts are forgotten
        with first.db.session() as s:
            assert s.scalar(select(func.count()).select_from(LoginThrottleState)) == 0
        restarted.db.close()
    finally:
        first.close()
        second.close()


def test_lockout_through_api_and_console_is_audited_and_seen_by_a_second_server(server, tmp_path):
    now = [dt.datetime.now(dt.timezone.utc)]
    other = FleetServer(ServerSettings(db_url=server.settings.db_url, artifact_dir=tmp_path / "a2"))
    for s in (server, other):
        s.login_throttle.clock = lambda: now[0]
    try:
        web, web2 = TestClient(create_app(server)), TestClient(create_app(other))
        for _ in range(5):
            assert web.post("/api/login", json={"username": "operator", "password": "wrong"}).status_code == 401
        right = {"username": "operator", "password": PASSWORD["operator"]}
        assert web.post("/api/login", json=right).status_code == 401  # locked: even the right password
        assert web2.post("/api/login", json=right).status_code == 401  # and on the other server process
        console = web2.post("/console/login", data=right, follow_redirects=False)
        assert console.status_code == 200 and "fleet_session" not in console.cookies
        now[0] += dt.timedelta(seconds=901)
        assert web2.post("/api/login", json=right).status_code == 200
        actions = audit_actions(server)
        assert actions.count(("operator", "login_failed", "denied")) == 5
        assert actions.count(("operator", "login_locked", "denied")) == 3
        assert ("operator", "login", "ok") in actions
        with server.db.session() as s:
            failed = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed").order_by(AuditEntry.id)))
        assert failed[-1].detail == {"locked_out": True} and failed[0].source == "testclient"
    finally:
        other.close()


# ------------------------------------------------------------------ sessions


def test_a_revoked_session_stops_at_once_and_only_its_owner_or_an_admin_may_revoke(server):
    laptop, phone = login(server, "operator", cookie=True), login(server, "operator")
    assert laptop.get("/api/me").status_code == 200 and phone.get("/api/me").status_code == 200
    sessions = phone.get("/api/sessions").json()
    assert len(sessions) == 2 and sum(s["current"] for s in sessions) == 1
    laptop_id = next(s["session_id"] for s in sessions if not s["current"])
    viewer = login(server, "viewer")
    assert viewer.delete(f"/api/sessions/{laptop_id}").status_code == 404  # not theirs
    assert viewer.get("/api/sessions", params={"all": True}).status_code == 403
    assert phone.delete(f"/api/sessions/{laptop_id}").json()["revoked_by"] == "operator"
    assert laptop.get("/api/me").status_code == 401  # the cookie, at the next request
    page = laptop.get("/console/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/console/login")
    assert phone.get("/api/me").status_code == 200

    admin = login(server, "admin")
    everyone = admin.get("/api/sessions", params={"all": True}).json()
    assert {s["username"] for s in everyone} == {"operator", "viewer", "admin"}
    phone_id = next(s["session_id"] for s in everyone if s["username"] == "operator")
    assert admin.delete(f"/api/sessions/{phone_id}").status_code == 200
    assert phone.get("/api/me").status_code == 401
    assert [a for a in audit_actions(server) if a[1] == "session_revoke"] == [
        ("operator", "session_revoke", "ok"), ("admin", "session_revoke", "ok")]


def test_a_password_change_revokes_the_other_sessions(server):
    current, other, cookie = login(server, "operator"), login(server, "operator"), login(server, "operator", cookie=True)
    wrong = current.post("/api/me/password", json={"current_password": "nope-nope", "new_password": "new-pass-22"})
    assert wrong.status_code == 422 and other.get("/api/me").status_code == 200
    done = current.post("/api/me/password", json={"current_password": PASSWORD["operator"], "new_password": "new-pass-22"})
    assert done.json() == {"sessions": 2, "tokens": 0}
    assert other.get("/api/me").status_code == 401 and cookie.get("/api/me").status_code == 401
    assert current.get("/api/me").status_code == 200
    web = TestClient(create_app(server))
    assert web.post("/api/login", json={"username": "operator", "password": PASSWORD["operator"]}).status_code == 401
    assert web.post("/api/login", json={"username": "operator", "password": "new-pass-22"}).status_code == 200
    assert ("operator", "password_change", "denied") in audit_actions(server)
    assert ("operator", "password_change", "ok") in audit_actions(server)


# ------------------------------------------------------------------ API tokens


def _token(client: TestClient, role: str = "viewer", days: float = 30) -> dict:
    response = client.post("/api/tokens", json={"name": f"script {role}", "role": role, "days": days})
    assert response.status_code == 201, response.text
    return response.json()


def _bearer(server, secret: str) -> TestClient:
    return TestClient(create_app(server), headers={"Authorization": f"Bearer {secret}"})


def test_a_revoked_token_stops_at_once_and_is_stored_only_hashed(server):
    operator = login(server, "operator")
    created = _token(operator, "operator")
    secret = created["token"]
    assert secret.startswith("kft_")
    script = _bearer(server, secret)
    me = script.get("/api/me").json()
    assert me["kind"] == "token" and me["credential_id"] == created["token_id"] and me["role"] == "operator"
    listed = operator.get("/api/tokens").json()
    assert [t["token_id"] for t in listed] == [created["token_id"]] and "token" not in listed[0]
    with server.db.session() as s:
        row = s.get(ApiToken, created["token_id"])
        assert secret not in repr(row.__dict__) and len(row.token_sha256) == 64
        assert s.scalar(select(LoginSession).where(LoginSession.token_sha256 == row.token_sha256)) is None
    as_cookie = TestClient(create_app(server), cookies={"fleet_session": secret})
    assert as_cookie.get("/api/me").status_code == 401  # a token is a bearer credential only
    assert login(server, "viewer").delete(f"/api/tokens/{created['token_id']}").status_code == 404
    assert operator.delete(f"/api/tokens/{created['token_id']}").json()["revoked_by"] == "operator"
    assert script.get("/api/me").status_code == 401
    assert operator.get("/api/tokens").json() == []
    actions = audit_actions(server)
    assert ("operator", "token_create", "ok") in actions and ("operator", "token_revoke", "ok") in actions


def test_a_token_has_its_own_role_never_more_than_its_owner(server):
    operator = login(server, "operator")
    assert operator.post("/api/tokens", json={"name": "x", "role": "admin"}).status_code == 422
    viewer_token = _bearer(server, _token(operator, "viewer")["token"])
    assert viewer_token.get("/api/kiosks").status_code == 200
    refused = viewer_token.post("/api/kiosks/k1/commands", json={"name": "reboot"})
    assert refused.status_code == 403  # the operator could; the viewer token cannot
    with server.db.session() as s:
        denied = s.scalar(select(AuditEntry).where(AuditEntry.action == "denied"))
    assert denied.operator == "operator" and denied.detail["role"] == "viewer" and denied.detail["needed"] == "operator"
    operator_token = _bearer(server, _token(operator, "operator")["token"])
    assert operator_token.get("/api/audit").status_code == 200
    assert operator_token.post("/api/tokens", json={"name": "renew", "role": "viewer"}).status_code == 403
    assert operator_token.post("/api/me/password", json={"current_password": PASSWORD["operator"],
                                                         "new_password": "stolen-pass"}).status_code == 403
    from fleet.server.models import Operator

    with server.db.session() as s:  # demoting the owner demotes the token
        s.execute(update(Operator).where(Operator.username == "operator").values(role="viewer"))
    assert operator_token.get("/api/me").json()["role"] == "viewer"
    assert operator_token.get("/api/audit").status_code == 403


def test_a_token_stops_at_its_expiry(server):
    operator = login(server, "operator")
    assert operator.post("/api/tokens", json={"name": "x", "days": 400}).status_code == 422
    created = _token(operator, "viewer", days=1)
    expires = dt.datetime.fromisoformat(created["expires_at"])
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=1)
    script = _bearer(server, created["token"])
    assert script.get("/api/kiosks").status_code == 200
    with server.db.session() as s:  # a day later
        s.execute(update(ApiToken).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    assert script.get("/api/kiosks").status_code == 401
    assert operator.get("/api/tokens").json() == []
    assert len(operator.get("/api/tokens", params={"ended": True}).json()) == 1


# ------------------------------------------------------------------ console page and CLI


def test_console_security_page_creates_a_token_once_and_revokes(server):
    from fleet.server.auth import csrf_token

    web = TestClient(create_app(server))
    web.post("/console/login", data={"username": "operator", "password": PASSWORD["operator"]})
    cookie = web.cookies["fleet_session"]
    csrf = csrf_token(cookie)
    page = web.post("/console/tokens", data={"csrf": csrf, "name": "monitor", "role": "viewer", "days": "7"})
    assert page.status_code == 200 and 'id="token-secret"' in page.text
    secret = page.text.split('id="token-secret">')[1].split("<")[0]
    assert _bearer(server, secret).get("/api/me").json()["role"] == "viewer"
    again = web.get("/console/security")
    assert "monitor" in again.text and secret not in again.text  # shown once
    token_id = server.tokens.list("operator")[0].token_id
    assert web.post(f"/console/tokens/{token_id}/revoke", data={"csrf": "stale"}).status_code == 403
    web.post(f"/console/tokens/{token_id}/revoke", data={"csrf": csrf})
    assert _bearer(server, secret).get("/api/me").status_code == 401
    assert web.get("/console/security?all=true").text.count('class="session') == 1  # not an admin: only mine
    session_id = server.auth.sessions("operator")[0].session_id
    out = web.post(f"/console/sessions/{session_id}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert out.headers["location"] == "/console/login" and web.get("/api/me").status_code == 401


def test_cli_lists_and_revokes_sessions_and_tokens(server, monkeypatch, tmp_path):
    from fleet.server import cli
    from fleet.server.testing import HttpServer

    http = HttpServer(create_app(server)).start()
    monkeypatch.setenv("KIOSK_FLEET_URL", http.url)
    monkeypatch.setenv("KIOSK_FLEET_TOKEN_FILE", str(tmp_path / "session.json"))
    monkeypatch.setenv("KIOSK_FLEET_PASSWORD", PASSWORD["operator"])

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        return cli.main(list(argv), out=out), out.getvalue()

    try:
        assert run("login", "--username", "operator")[0] == 0
        code, text = run("token", "create", "nightly report", "--role", "viewer", "--days", "2")
        secret = text.splitlines()[1]
        assert code == 0 and secret.startswith("kft_")
        code, text = run("token", "list")
        token_id = text.splitlines()[2].split()[0]
        assert "nightly report" in text and secret not in text
        monkeypatch.setenv("KIOSK_FLEET_TOKEN", secret)
        assert run("kiosks")[0] == 0
        monkeypatch.delenv("KIOSK_FLEET_TOKEN")
        assert run("token", "revoke", token_id)[0] == 0
        monkeypatch.setenv("KIOSK_FLEET_TOKEN", secret)
        assert run("kiosks")[0] == 2  # revoked: "not logged in"
        monkeypatch.delenv("KIOSK_FLEET_TOKEN")
        other = login(server, "operator")
        code, text = run("sessions")
        assert code == 0 and len(text.splitlines()) == 4 and text.count(" *") == 1
        other_id = next(line.split()[0] for line in text.splitlines()[2:] if " *" not in line)
        assert run("session", "revoke", other_id)[0] == 0 and other.get("/api/me").status_code == 401
        monkeypatch.setenv("KIOSK_FLEET_NEW_PASSWORD", "brand-new-pass")
        code, text = run("password")
        assert code == 0 and "0 other session(s)" in text
    finally:
        http.stop()
