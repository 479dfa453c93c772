"""Alert notifications: rules → a real SMTP server (aiosmtpd) and a real webhook endpoint.

End to end: a simulated kiosk on the real broker raises every kind of alert the rules
name (device fault, paper low, submission-queue age, update rolled back, offline), the
running server's notifier delivers each once by webhook and by e-mail. The rule
mechanics (offline for more than N minutes, de-duplication of a flapping alert,
escalation and acknowledgement, quiet hours, retry of a failed delivery) run the
notifier's pass with an explicit clock, so nothing waits on wall time."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet.protocol import UpdateReported
from fleet.server.models import Alert, Kiosk, Notification
from fleet.server.notify.config import NotifyConfig
from fleet.server.notify.engine import Notifier
from fleet.server.notify.testing import SmtpSink, WebhookSink
from fleet.server.testing import FleetHarness

A, B = "kiosk-a", "kiosk-b"


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def hook():
    sink = WebhookSink().start()
    yield sink
    sink.stop()


def config(hook: WebhookSink, smtp: SmtpSink, **rule) -> NotifyConfig:
    channels = {"hook": {"type": "webhook", "url": hook.url},
                "mail": {"type": "email", "host": "127.0.0.1", "port": smtp.port, "sender": "fleet@post.example",
                         "to": ["duty@post.example"]},
                "lead": {"type": "webhook", "url": hook.url + "?lead"}}
    base = {"name": "r", "kinds": ["offline"], "channels": ["hook", "mail"]}
    return NotifyConfig.model_validate({"channels": channels, "rules": [base | rule], "tick_s": 0.05,
                                        "dedupe_window_s": 600, "console_url": "https://fleet.example"})


def test_every_rule_kind_arrives_once_by_webhook_and_email(fleet_pki, mosquitto, tmp_path, hook, smtp):
    cfg = config(hook, smtp, kinds=["device_fault", "paper_low", "submission_queue_age", "update_failed", "offline"])
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'fleet.db'}")
    harness.settings.notify = cfg
    harness.settings.queue_age_alert_s = 1800
    harness.start()
    try:
        kiosk = harness.kiosk(A)
        kiosk.set_device("printer", "ready", paper="near_end")
        kiosk.set_device("idcard", "fault", reason="E_TIMEOUT")
        kiosk.publish(kiosk.health().model_copy(update={"submission_queue_depth": 3,
                                                        "submission_queue_oldest_s": 2 * 3600})).wait_for_publish(5)
        kiosk.publish(UpdateReported(kiosk_id=A, version="1.5.0", state="rolled_back",
                                     reason="unhealthy")).wait_for_publish(5)
        kiosk.kill()  # the broker publishes the will: offline
        posts = hook.wait(5)
        mails = smtp.wait(5)
        kinds = sorted(p["kind"] for p in posts)
        assert kinds == ["device_fault", "offline", "paper_low", "submission_queue_age", "update_failed"]
        assert sorted(m["X-Kiosk-Alert-Id"] for m in mails) == sorted(str(p["alert_id"]) for p in posts)
        assert smtp.envelopes[0] == ("fleet@post.example", ["duty@post.example"])
        subjects = " | ".join(m["Subject"] for m in mails)
        assert "kiosk-a update_failed" in subjects and "kiosk-a device_fault (idcard)" in subjects
        body = next(m for m in mails if "update_failed" in m["Subject"]).get_payload()
        assert "rolled back: unhealthy" in body and "https://fleet.example/console/alerts" in body
        assert harness.server.notifier.wait_passes(3)
        assert len(hook.posts) == 5 and len(smtp.messages) == 5  # de-duplicated across passes
        with harness.server.db.session() as session:
            assert {n.status for n in session.query(Notification)} == {"sent"}
        page = harness.client("viewer").get("/console/notifications")  # the console's history page
        assert page.status_code == 200 and page.text.count('class="notification sent"') == 10
        assert "update_failed" in page.text and "first notice" in page.text
    finally:
        harness.stop()


# ------------------------------------------------------------------ rule mechanics, explicit clock


@pytest.fixture
def db(tmp_path):
    from fleet.server.db import Database

    database = Database(f"sqlite:///{tmp_path / 'fleet.db'}")
    yield database
    database.close()


def open_alert(db, kiosk_id: str, opened_at: dt.datetime, kind: str = "offline", severity: str = "critical") -> int:
    with db.session() as session:
        if session.get(Kiosk, kiosk_id) is None:
            session.add(Kiosk(kiosk_id=kiosk_id, online=False, session=-1, config_desired_version=0))
            session.flush()
        alert = Alert(kiosk_id=kiosk_id, kind=kind, device="", severity=severity, message="went away",
                      opened_at=opened_at)
        session.add(alert)
        session.flush()
        return alert.id


def update_alert(db, alert_id: int, **fields) -> None:
    with db.session() as session:
        alert = session.get(Alert, alert_id)
        for name, value in fields.items():
            setattr(alert, name, value)


T0 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Chongqing


def test_offline_for_more_than_n_minutes(db, hook, smtp):
    notifier = Notifier(db, config(hook, smtp, min_open_s=600, channels=["hook"]))
    open_alert(db, A, T0)
    assert notifier.run_once(T0 + dt.timedelta(minutes=9)) == []
    assert len(notifier.run_once(T0 + dt.timedelta(minutes=11))) == 1
    assert notifier.run_once(T0 + dt.timedelta(minutes=12)) == []
    assert [p["kiosk_id"] for p in hook.posts] == [A]


def test_a_flapping_alert_is_notified_once_within_the_window(db, hook, smtp):
    notifier = Notifier(db, config(hook, smtp, channels=["hook"]))
    first = open_alert(db, A, T0)
    notifier.run_once(T0)
    update_alert(db, first, cleared_at=T0 + dt.timedelta(minutes=1))
    open_alert(db, A, T0 + dt.timedelta(minutes=2))  # back again within the 10 min window
    assert notifier.run_once(T0 + dt.timedelta(minutes=2)) == []
    later = open_alert(db, B, T0 + dt.timedelta(minutes=2))  # another kiosk is not a duplicate
    assert [d.payload["alert_id"] for d in notifier.run_once(T0 + dt.timedelta(minutes=3))] == [later]
    with db.session() as session:
        assert sorted(n.status for n in session.query(Notification)) == ["sent", "sent", "suppressed"]


def test_escalation_unless_acknowledged(db, hook, smtp):
    notifier = Notifier(db, config(hook, smtp, channels=["hook"], escalate_after_s=1800, escalate_to=["lead"]))
    ignored, acked = open_alert(db, A, T0), open_alert(db, B, T0)
    notifier.run_once(T0)
    update_alert(db, acked, acknowledged_by="operator", acknowledged_at=T0 + dt.timedelta(minutes=5))
    assert notifier.run_once(T0 + dt.timedelta(minutes=29)) == []
    escalated = notifier.run_once(T0 + dt.timedelta(minutes=31))
    assert [(d.channel, d.payload["alert_id"], d.payload["escalation"]) for d in escalated] == [("lead", ignored, True)]
    assert hook.wait(3)[-1]["subject"].startswith("[kiosk fleet] escalation 1: kiosk-a offline")
    assert notifier.run_once(T0 + dt.timedelta(minutes=40)) == []


def test_quiet_hours_hold_until_they_end(db, hook, smtp):
    quiet = {"start": "22:00", "end": "07:00", "utc_offset_h": 8}
    notifier = Notifier(db, config(hook, smtp, channels=["hook", "mail"], quiet_hours=quiet))
    night = dt.datetime(2026, 12, 6, 15, 30, tzinfo=dt.timezone.utc)  # 23:30 in Chongqing
    open_alert(db, A, night)
    assert notifier.run_once(night) == []
    assert notifier.run_once(night + dt.timedelta(hours=6)) == []  # 05:30, still quiet
    with db.session() as session:
        assert {n.status for n in session.query(Notification)} == {"held"}
    morning = notifier.run_once(night + dt.timedelta(hours=8))  # 07:30
    assert sorted(d.channel for d in morning) == ["hook", "mail"]
    assert len(smtp.wait(1)) == 1 and len(hook.posts) == 1


def test_quiet_hours_let_critical_through_when_asked(db, hook, smtp):
    quiet = {"start": "22:00", "end": "07:00", "let_through": ["critical"]}
    notifier = Notifier(db, config(hook, smtp, kinds=["offline", "paper_low"], channels=["hook"], quiet_hours=quiet))
    night = dt.datetime(2026, 12, 6, 15, 30, tzinfo=dt.timezone.utc)
    open_alert(db, A, night, kind="offline", severity="critical")
    open_alert(db, B, night, kind="paper_low", severity="warning")
    assert [d.payload["kind"] for d in notifier.run_once(night)] == ["offline"]


def test_a_failed_delivery_is_recorded_and_retried(db, hook, smtp):
    notifier = Notifier(db, config(hook, smtp, channels=["hook"]))
    open_alert(db, A, T0)
    hook.status = 503
    notifier.run_once(T0)
    with db.session() as session:
        row = session.query(Notification).one()
        assert (row.status, row.attempts) == ("failed", 1) and "HTTP 503" in row.error
    hook.status = 200
    notifier.run_once(T0 + dt.timedelta(seconds=10))
    with db.session() as session:
        row = session.query(Notification).one()
        assert (row.status, row.attempts) == ("sent", 2)
    assert len(hook.posts) == 1


def test_bad_configuration_is_refused_with_the_reason(hook, smtp):
    with pytest.raises(ValueError, match="no channel named 'pager'"):
        config(hook, smtp, channels=["pager"])
    with pytest.raises(ValueError, match="unknown alert kinds"):
        config(hook, smtp, kinds=["offlne"])
