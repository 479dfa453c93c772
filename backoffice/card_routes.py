"""Routes of the transit-card issuer (交通卡充值): MAC2 for a paid load, the TAC that confirms it.

The issuer is the authority on money: a load is authorised only for a QR payment order that
is paid, of the same amount and not used for anything else, and only after MAC1 proves the
card (its key, balance, counter and the amount) — docs/backoffice.md. A paid order stays
bound to one load (`card_loads.payment_order_id` is unique): after a torn write the same
order may be re-authorised only while the card's online counter has not moved (the card
was not credited); once it moved, only the card's TAC (GET TRANSACTION PROVE) closes it.
So one payment never becomes two credits, and a payment never ends without its credit
or a record staff can act on (`GET /v1/cards/{card}/pending-loads`).

Keys: the test master keys of `peripherals.cardreader.purse` (a real issuer keeps them in
an HSM; the kiosk never sees them).
"""

from __future__ import annotations

import datetime as dt
import hmac
import sqlite3
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from backoffice import numbers
from backoffice.http import Rejection, json_response, now
from flows.services.hall_models import (
    LoadAuthorisation,
    LoadAuthorisationRequest,
    LoadConfirmation,
    LoadRecord,
    PendingLoads,
    topup_reference,
)
from peripherals.cardreader import purse

SCHEMA = """
CREATE TABLE IF NOT EXISTS card_loads (
    load_id TEXT PRIMARY KEY,
    payment_order_id TEXT NOT NULL UNIQUE,
    card_number TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    balance_before INTEGER NOT NULL,
    online_counter INTEGER NOT NULL,
    random TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    load_when TEXT NOT NULL,
    mac2 TEXT NOT NULL,
    status TEXT NOT NULL,
    tac TEXT,
    created_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS card_loads_card ON card_loads (card_number, status);
"""


def _record(row: sqlite3.Row) -> LoadRecord:
    return LoadRecord(load_id=row["load_id"], card_number=row["card_number"], payment_order_id=row["payment_order_id"],
                      amount_fen=row["amount_fen"], online_counter=row["online_counter"], status=row["status"],
                      completed_at=dt.datetime.fromisoformat(row["completed_at"]) if row["completed_at"] else None)


def _session_key(card_number: str, random_hex: str, counter: int) -> bytes:
    return purse.session_key(purse.diversify(purse.TEST_MASTER_LOAD_KEY, card_number), bytes.fromhex(random_hex), counter)


def register(api: FastAPI, bo: Any) -> None:
    db = bo.db
    db.add_schema(SCHEMA)
    key_header = Header(default=None, alias="Idempotency-Key")

    @api.post("/v1/cards/loads", status_code=201)
    async def authorise(body: LoadAuthorisationRequest, request: Request, key: str | None = key_header) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            order = bo.order(conn, body.payment_order_id, at)
            if order.status != "paid":
                raise Rejection(409, "payment_not_completed", f"the payment order is {order.status}", "payment_order_id")
            if order.amount_fen != body.amount_fen:
                raise Rejection(422, "amount_mismatch", "the order amount differs from the load", "amount_fen")
            terminal = bytes.fromhex(body.terminal_id)
            sk = _session_key(body.card_number, body.random, body.online_counter)
            expected = purse.mac1(sk, body.balance_fen, body.amount_fen, terminal).hex().upper()
            if not hmac.compare_digest(expected, body.mac1):
                raise Rejection(422, "mac1_invalid", "MAC1 does not prove this card and amount", "mac1")
            row = conn.execute("SELECT * FROM card_loads WHERE payment_order_id = ?", (order.order_id,)).fetchone()
            used = conn.execute("SELECT used_by FROM payment_orders WHERE order_id = ?", (order.order_id,)).fetchone()[0]
            if row is None and used:
                raise Rejection(409, "payment_order_already_used", "the payment order paid for something else",
                                "payment_order_id")
            mac2 = purse.mac2(sk, body.amount_fen, terminal, purse.when_bytes(body.when)).hex().upper()
            if row is not None:
                if row["status"] == "completed":
                    raise Rejection(409, "load_already_completed", "this payment is already on the card")
                if row["card_number"] != body.card_number:
                    raise Rejection(409, "load_other_card", "this payment belongs to another card", "card_number")
                if row["online_counter"] != body.online_counter:
                    raise Rejection(409, "load_outcome_unknown", "the card's counter moved: prove the earlier load")
                load_id = row["load_id"]
                conn.execute("UPDATE card_loads SET balance_before = ?, random = ?, terminal_id = ?, load_when = ?,"
                             " mac2 = ? WHERE load_id = ?",
                             (body.balance_fen, body.random, body.terminal_id, body.when, mac2, load_id))
            else:
                load_id = numbers.daily_id("CL", at.date(), db.next_number("CL"))
                conn.execute("INSERT INTO card_loads (load_id, payment_order_id, card_number, amount_fen, balance_before,"
                             " online_counter, random, terminal_id, load_when, mac2, status, created_at)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'authorised', ?)",
                             (load_id, order.order_id, body.card_number, body.amount_fen, body.balance_fen,
                              body.online_counter, body.random, body.terminal_id, body.when, mac2, at.isoformat()))
                conn.execute("UPDATE payment_orders SET used_by = ? WHERE order_id = ?", (load_id, order.order_id))
            return load_id, LoadAuthorisation(load_id=load_id, card_number=body.card_number, amount_fen=body.amount_fen,
                                              online_counter=body.online_counter, mac2=mac2, when=body.when)

        return bo.submit(request, key, "card_load", body, effect)

    @api.post("/v1/cards/loads/{load_id}/confirm", status_code=201)
    async def confirm(load_id: str, body: LoadConfirmation, request: Request, key: str | None = key_header) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            row = conn.execute("SELECT * FROM card_loads WHERE load_id = ?", (load_id,)).fetchone()
            if row is None:
                raise Rejection(404, "load_not_found", "no such load")
            if row["status"] != "completed":
                tac_key = purse.diversify(purse.TEST_MASTER_TAC_KEY, row["card_number"])
                expected = purse.tac(tac_key, row["balance_before"] + row["amount_fen"], row["online_counter"],
                                     row["amount_fen"], bytes.fromhex(row["terminal_id"]),
                                     purse.when_bytes(row["load_when"])).hex().upper()
                if not hmac.compare_digest(expected, body.tac):
                    raise Rejection(422, "tac_invalid", "the TAC does not prove this load", "tac")
                conn.execute("UPDATE card_loads SET status = 'completed', tac = ?, completed_at = ? WHERE load_id = ?",
                             (body.tac, at.isoformat(), load_id))
                row = conn.execute("SELECT * FROM card_loads WHERE load_id = ?", (load_id,)).fetchone()
            return load_id, _record(row)

        return bo.submit(request, key, "card_load_confirm", body, effect)

    @api.get("/v1/cards/loads/{load_id}")
    async def get_load(load_id: str) -> Response:
        rows = db.query("SELECT * FROM card_loads WHERE load_id = ?", load_id)
        if not rows:
            raise Rejection(404, "load_not_found", "no such load")
        return json_response(_record(rows[0]))

    @api.get("/v1/cards/{card_number}/pending-loads")
    async def pending(card_number: str) -> Response:
        """Loads authorised but unconfirmed, and top-up orders paid for this card with no load yet."""
        rows = db.query("SELECT * FROM card_loads WHERE card_number = ? AND status = 'authorised' ORDER BY created_at",
                        card_number)
        loads = [_record(r) for r in rows]
        with db.transaction() as conn:
            orders = conn.execute("SELECT order_id FROM payment_orders WHERE reference = ? AND used_by IS NULL"
                                  " AND cancelled_at IS NULL ORDER BY created_at",
                                  (topup_reference(card_number),)).fetchall()
            for o in orders:
                order = bo.order(conn, o["order_id"], now())
                if order.status == "paid":
                    loads.append(LoadRecord(load_id="", card_number=card_number, payment_order_id=order.order_id,
                                            amount_fen=order.amount_fen, online_counter=None, status="paid"))
        return json_response(PendingLoads(loads=loads))
