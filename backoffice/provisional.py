"""Provisional references from kiosks that were offline: mapped to final ids, decided, notified.

A kiosk that could not reach us gave the citizen a provisional reference (kiosk id +
sequence + check character, flows/outbox/reference.py) and queued its writes. When they
arrive:
- an application carrying `provisional_reference` is decided as usual; the decision is
  recorded against the reference (accepted → its final id; refused → the reason code),
  and ONE notice goes to the citizen (SMS, or a letter when the SMS fails — modelled as a
  row in `notices`: channel, decision, reason, the final id; no phone number kept here);
- a refusal of such an application is bound to its Idempotency-Key like an acceptance,
  so a resend (the kiosk timed out after we committed) replays it and no second notice
  goes out;
- a waybill or payment order whose `reference` is a provisional reference is linked to
  it; a pay-later order stays open for `PAY_LATER_DAYS` and is found by the reference the
  citizen's QR code carries (GET /v1/payments/later/{reference}).
`GET /v1/provisional/{reference}` answers what a reference became (counter staff, the
citizen's "check my application" page).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

SCHEMA = """
CREATE TABLE IF NOT EXISTS provisional (
    reference  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    final_id   TEXT,
    decision   TEXT NOT NULL,
    reason     TEXT,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (reference, kind)
);
CREATE TABLE IF NOT EXISTS notices (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    reference  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    decision   TEXT NOT NULL,
    reason     TEXT,
    final_id   TEXT,
    created_at TEXT NOT NULL
);
"""
PAY_LATER_DAYS = 7
_REF_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,62}-\d{6,}-[0-9A-Z]$")
APPLICATION_KINDS = {"licence_renewal", "licence_reissue", "inspection_exempt", "tax_invoice"}


def is_provisional(reference: str | None) -> bool:
    return bool(reference) and bool(_REF_RE.match(reference or ""))


def reference_of(kind: str, body: Any) -> str | None:
    """The provisional reference a request carries: its own (applications) or the one it refers to."""
    ref = getattr(body, "provisional_reference", None)
    if ref is None and kind in ("waybill", "payment_order"):
        ref = getattr(body, "reference", None)
    return ref if is_provisional(ref) else None


def record_accepted(conn: sqlite3.Connection, kind: str, reference: str, final_id: str, at: dt.datetime) -> None:
    conn.execute("INSERT OR IGNORE INTO provisional VALUES (?, ?, ?, 'accepted', NULL, ?)",
                 (reference, kind, final_id, at.isoformat()))
    if kind in APPLICATION_KINDS:
        _notice(conn, reference, "accepted", None, final_id, at)


def record_refused(conn: sqlite3.Connection, kind: str, reference: str, reason: str, at: dt.datetime) -> None:
    conn.execute("INSERT OR IGNORE INTO provisional VALUES (?, ?, NULL, 'refused', ?, ?)",
                 (reference, kind, reason, at.isoformat()))
    _notice(conn, reference, "refused", reason, None, at)


def _notice(conn: sqlite3.Connection, reference: str, decision: str, reason: str | None, final_id: str | None,
            at: dt.datetime) -> None:
    """The citizen is told by SMS to the phone on file with the traffic police (a letter if none)."""
    conn.execute("INSERT INTO notices (reference, channel, decision, reason, final_id, created_at) VALUES (?,?,?,?,?,?)",
                 (reference, "sms", decision, reason, final_id, at.isoformat()))


def order_ttl(body: Any, default_s: float) -> float:
    return PAY_LATER_DAYS * 86_400.0 if is_provisional(getattr(body, "reference", None)) else default_s


def add_routes(api: FastAPI, bo: Any, now: Any) -> None:
    db = bo.db

    def _json(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data, ensure_ascii=False), status_code=status, media_type="application/json")

    @api.get("/v1/provisional/{reference}")
    async def provisional(reference: str) -> Response:
        rows = db.query("SELECT kind, final_id, decision, reason, decided_at FROM provisional WHERE reference = ?"
                        " ORDER BY decided_at", reference)
        if not rows:
            return _json({"error": {"code": "reference_not_found", "message": "nothing has arrived under this"
                                    " reference yet", "field": None}}, 404)
        return _json({"reference": reference, "items": [dict(r) for r in rows]})

    @api.get("/v1/notices")
    async def notices(reference: str | None = None) -> Response:
        sql = "SELECT seq, reference, channel, decision, reason, final_id, created_at FROM notices"
        rows = db.query(sql + " WHERE reference = ? ORDER BY seq", reference) if reference else db.query(sql + " ORDER BY seq")
        return _json([dict(r) for r in rows])

    @api.get("/v1/payments/later/{reference}")
    async def pay_later(reference: str) -> Response:
        rows = db.query("SELECT order_id FROM payment_orders WHERE reference = ? ORDER BY created_at DESC LIMIT 1",
                        reference)
        if not rows:
            return _json({"error": {"code": "payment_order_not_found", "message": "no payment is due under this"
                                    " reference yet", "field": None}}, 404)
        with db.transaction() as conn:
            order = bo.order(conn, rows[0]["order_id"], now())
        return Response(order.model_dump_json(), media_type="application/json")
