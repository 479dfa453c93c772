"""The reference back office: FastAPI routes over SQLite, wrapped in fault injection.

`create_app(Settings(db_path=...))` returns an ASGI application (`BackOfficeApp`) that
serves the API in docs/backoffice.md. Requests are validated with the same pydantic
models the kiosk's client uses (flows.services.models); business rules live in
rules.py, seeded citizen data in seed.py. Every state-changing POST goes through
`_submit`, which implements the Idempotency-Key semantics in one place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from backoffice import (card_routes, document_routes, documents, errand_routes, identity, numbers, provisional, rules,
                        seed, terminal)
from backoffice.db import Database
from backoffice.http import TZ, Rejection, now
from backoffice.http import json_response as _json
from backoffice.faults import FaultConfig, FaultController, FaultMiddleware
from flows.services import validation as v
from flows.services.models import (
    IDEMPOTENCY_KEY_PATTERN,
    Fine,
    FineList,
    FinePaymentReceipt,
    FinePaymentRequest,
    FineQuery,
    Health,
    InspectionExemptLabel,
    InspectionExemptRequest,
    Invoice,
    InvoiceRequest,
    LicenceApplication,
    LicenceQuery,
    LicenceRecord,
    LicenceReissueRequest,
    LicenceRenewalRequest,
    PaymentOrder,
    PaymentOrderRequest,
    Submission,
    TrackingEvent,
    TrackingInfo,
    Waybill,
    WaybillRequest,
)

VERSION = "1.0"
LICENCE_FEE_FEN = 1_000  # 工本费 10 yuan
QR_BASE = "https://pay.backoffice.example/qr/"
_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)
# Reason codes our own validators raise (flows.services.models); others map to generic codes.
_MODEL_CODES = {
    "invalid_id_number", "invalid_phone", "invalid_plate", "invalid_licence_class", "invalid_province",
    "invalid_name", "invalid_vision", "invalid_query", "duplicate_fine",
}


@dataclass
class Settings:
    db_path: str
    pay_after_s: float | None = 3.0  # orders turn 'paid' by themselves after this; None = never
    order_ttl_s: float = 900.0  # pending orders expire after this
    home_province: str = "重庆市"  # where this kiosk's post office is (postage is cheaper inside)
    region_code: str = "50"  # for invoice numbers
    faults: FaultConfig = field(default_factory=FaultConfig)


def _error(status: int, code: str, message: str, field: str | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "field": field}}
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type="application/json")


def _require_real_name(check: Any) -> None:
    """A licence errand applied for in person: a real-name check the kiosk sends must have passed."""
    if check is not None and not check.passed:
        raise Rejection(422, "real_name_check_failed", "the applicant's real-name check did not pass", "real_name_check")


def _local(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment.astimezone(TZ)


class BackOfficeApp:
    """ASGI app: FaultMiddleware(FastAPI). Holds the database and the fault controller."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.db = Database(settings.db_path)
        self.db.conn.executescript(provisional.SCHEMA)
        self.faults = FaultController(settings.faults)
        self.api = _build_api(self)
        self._asgi = FaultMiddleware(self.api, self.faults)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ idempotent submissions

    def submit(
        self,
        request: Request,
        key: str | None,
        kind: str,
        body: BaseModel | None,
        effect: Callable[[sqlite3.Connection, dt.datetime], tuple[str, BaseModel]],
    ) -> Response:
        """Run `effect` once per Idempotency-Key; answer repeats from the record.

        Only accepted submissions bind a key: a refused request stores nothing, so the
        citizen can correct it and the kiosk resend with the same key — except a refused
        application under a provisional reference (backoffice/provisional.py): nobody is
        at the kiosk to correct it, the refusal is the decision and is notified once.
        """
        ref = provisional.reference_of(kind, body)
        if key is None:
            raise Rejection(400, "missing_idempotency_key", "an Idempotency-Key header is required")
        if not _KEY_RE.match(key):
            raise Rejection(400, "invalid_idempotency_key", "Idempotency-Key must be 8-255 printable ASCII characters")
        canonical = json.dumps(body.model_dump(mode="json") if body else None, sort_keys=True, ensure_ascii=False)
        digest = hmac.new(self.db.secret, f"{request.method} {request.url.path}\n{canonical}".encode(), hashlib.sha256).hexdigest()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT request_digest, status_code, response_json FROM submissions WHERE idempotency_key = ?", (key,)
            ).fetchone()
            if row is not None:
                if not hmac.compare_digest(row["request_digest"], digest):
                    raise Rejection(
                        422, "idempotency_key_mismatch", "this Idempotency-Key was already used for a different request"
                    )
                return Response(
                    row["response_json"], status_code=row["status_code"], media_type="application/json",
                    headers={"Idempotent-Replayed": "true"},
                )
            created = now()
            try:
                submission_id, response = effect(conn, created)
            except Rejection as r:
                if ref is None or kind not in provisional.APPLICATION_KINDS:
                    raise
                provisional.record_refused(conn, kind, ref, r.code, created)
                error_json = json.dumps({"error": {"code": r.code, "message": r.message, "field": r.field}},
                                        ensure_ascii=False)
                conn.execute(
                    "INSERT INTO submissions (idempotency_key, kind, id, request_digest, status_code, response_json,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, f"refused:{kind}", ref, digest, r.status, error_json, created.isoformat()),
                )
                return Response(error_json, status_code=r.status, media_type="application/json")
            if ref is not None:
                provisional.record_accepted(conn, kind, ref, submission_id, created)
            response_json = response.model_dump_json()
            conn.execute(
                "INSERT INTO submissions (idempotency_key, kind, id, request_digest, status_code, response_json, created_at)"
                " VALUES (?, ?, ?, ?, 201, ?, ?)",
                (key, kind, submission_id, digest, response_json, created.isoformat()),
            )
        return Response(response_json, status_code=201, media_type="application/json", headers={"Idempotent-Replayed": "false"})

    # ------------------------------------------------------------ traffic

    def licence(self, id_number: str, today: dt.date) -> seed.SeededLicence:
        record = seed.licence_for(id_number, today)
        if record is None:
            raise Rejection(404, "licence_not_found", "no driving licence is on file for this ID number", "id_number")
        return record

    def fines(self, conn: sqlite3.Connection, plate: str, today: dt.date) -> list[Fine]:
        seeded = seed.fines_for_plate(plate, today, TZ)
        conn.executemany(
            "INSERT OR IGNORE INTO fines (fine_id, amount_fen) VALUES (?, ?)", [(f.fine_id, f.amount_fen) for f in seeded]
        )
        paid = {
            r["fine_id"]
            for r in conn.execute(
                f"SELECT fine_id FROM fines WHERE receipt_number IS NOT NULL AND fine_id IN ({','.join('?' * len(seeded))})",
                [f.fine_id for f in seeded],
            )
        } if seeded else set()
        return [
            Fine(
                fine_id=f.fine_id, plate=f.plate, occurred_at=f.occurred_at, location=f.location,
                violation_code=f.violation_code, description=f.description, amount_fen=f.amount_fen,
                points=f.points, paid=f.fine_id in paid,
            )
            for f in seeded
        ]

    # ------------------------------------------------------------ payment

    def order(self, conn: sqlite3.Connection, order_id: str, at: dt.datetime) -> PaymentOrder:
        """The order's current state; applies the simulated citizen paying after pay_after_s."""
        row = conn.execute("SELECT * FROM payment_orders WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            raise Rejection(404, "payment_order_not_found", "no such payment order")
        created = dt.datetime.fromisoformat(row["created_at"])
        expires = dt.datetime.fromisoformat(row["expires_at"])
        paid_at = row["paid_at"]
        pay_after = self.settings.pay_after_s
        if not paid_at and not row["cancelled_at"] and pay_after is not None and pay_after >= 0:
            auto_paid = created + dt.timedelta(seconds=pay_after)
            if auto_paid <= at and auto_paid < expires:
                paid_at = auto_paid.isoformat()
                conn.execute("UPDATE payment_orders SET paid_at = ? WHERE order_id = ?", (paid_at, order_id))
        if row["cancelled_at"]:
            status = "cancelled"
        elif paid_at:
            status = "paid"
        elif at >= expires:
            status = "expired"
        else:
            status = "pending"
        return PaymentOrder(
            order_id=order_id, amount_fen=row["amount_fen"], description=row["description"], status=status,
            qr_payload=QR_BASE + order_id, created_at=created, expires_at=expires,
            paid_at=dt.datetime.fromisoformat(paid_at) if paid_at else None,
        )


def _build_api(bo: BackOfficeApp) -> FastAPI:
    api = FastAPI(title="Kiosk reference back office", version=VERSION, docs_url="/docs", redoc_url=None)
    db = bo.db
    settings = bo.settings
    KeyHeader = Header(default=None, alias="Idempotency-Key")

    # ------------------------------------------------------------ errors

    @api.exception_handler(Rejection)
    async def _rejection(_: Request, exc: Rejection) -> Response:
        return _error(exc.status, exc.code, exc.message, exc.field)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        # Never echo the input: it is personal data more often than not.
        first = exc.errors()[0] if exc.errors() else {"type": "invalid_request", "loc": (), "msg": "invalid request"}
        kind = str(first.get("type", ""))
        code = kind if kind in _MODEL_CODES else {"json_invalid": "invalid_json", "missing": "missing_field"}.get(kind, "invalid_field")
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        return _error(422, code, str(first.get("msg", "invalid request")), ".".join(loc) or None)

    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return _error(exc.status_code, code, str(exc.detail))

    # ------------------------------------------------------------ inspection

    @api.get("/v1/health")
    async def health() -> Response:
        db.query("SELECT 1")
        return _json(Health(version=VERSION, time=now()))

    @api.get("/v1/submissions")
    async def submissions(kind: str | None = None) -> Response:
        sql = "SELECT idempotency_key, kind, id, created_at FROM submissions"
        rows = db.query(sql + " WHERE kind = ? ORDER BY seq", kind) if kind else db.query(sql + " ORDER BY seq")
        return _json([Submission(**dict(r)).model_dump(mode="json") for r in rows])

    # ------------------------------------------------------------ traffic

    @api.post("/v1/traffic/licence/query")
    async def licence_query(query: LicenceQuery) -> Response:
        today = now().date()
        lic = bo.licence(query.id_number, today)
        return _json(
            LicenceRecord(
                licence_class=lic.licence_class, first_issued=lic.first_issued, valid_from=lic.valid_from,
                valid_until=lic.valid_until, status="valid" if lic.valid_until >= today else "expired",
                renewal_window_open=(lic.valid_until - today).days <= rules.RENEWAL_WINDOW_DAYS,
                yearly_exam_required=lic.age >= 70, points=lic.points,
            )
        )

    @api.post("/v1/traffic/licence/renewals", status_code=201)
    async def licence_renewal(body: LicenceRenewalRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            today = at.date()
            _require_real_name(body.real_name_check)
            lic = bo.licence(body.id_number, today)
            if body.licence_class != lic.licence_class:
                raise Rejection(422, "licence_class_mismatch", "the licence class differs from the licence on file", "licence_class")
            if (lic.valid_until - today).days > rules.RENEWAL_WINDOW_DAYS:
                raise Rejection(409, "renewal_window_not_open", "renewal opens 90 days before expiry")
            examined = body.certificate_issued_at or _local(body.medical.examined_at).date()
            failure = rules.certificate_failure(examined, today) or rules.medical_failure(body.medical, lic.licence_class)
            if failure:
                raise Rejection(422, failure.code, failure.message, failure.field)
            app_id = numbers.daily_id("LR", today, db.next_number("LR"))
            new_until = seed.add_years(lic.valid_until, 10) if lic.period_years == 6 else None  # 10 years, then long-term
            return app_id, LicenceApplication(
                application_id=app_id, kind="licence_renewal", licence_class=lic.licence_class,
                new_valid_until=new_until, fee_fen=LICENCE_FEE_FEN, accepted_at=at,
            )

        return bo.submit(request, key, "licence_renewal", body, effect)

    @api.post("/v1/traffic/licence/reissues", status_code=201)
    async def licence_reissue(body: LicenceReissueRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            _require_real_name(body.real_name_check)
            lic = bo.licence(body.id_number, at.date())
            if body.licence_class != lic.licence_class:
                raise Rejection(422, "licence_class_mismatch", "the licence class differs from the licence on file", "licence_class")
            app_id = numbers.daily_id("RI", at.date(), db.next_number("RI"))
            return app_id, LicenceApplication(
                application_id=app_id, kind="licence_reissue", licence_class=lic.licence_class,
                new_valid_until=lic.valid_until, fee_fen=LICENCE_FEE_FEN, accepted_at=at,
            )

        return bo.submit(request, key, "licence_reissue", body, effect)

    @api.post("/v1/traffic/fines/query")
    async def fines_query(query: FineQuery) -> Response:
        today = now().date()
        plate = query.plate or seed.plate_for(query.id_number or "")
        with db.transaction() as conn:
            fines = bo.fines(conn, plate, today)
        return _json(FineList(fines=fines, unpaid_total_fen=sum(f.amount_fen for f in fines if not f.paid)))

    @api.post("/v1/traffic/fines/payments", status_code=201)
    async def fines_payment(body: FinePaymentRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            marks = ",".join("?" * len(body.fine_ids))
            rows = conn.execute(f"SELECT * FROM fines WHERE fine_id IN ({marks})", body.fine_ids).fetchall()
            if len(rows) != len(body.fine_ids):
                raise Rejection(422, "unknown_fine", "a listed fine does not exist (query fines first)", "fine_ids")
            if any(r["receipt_number"] for r in rows):
                raise Rejection(409, "fine_already_paid", "a listed fine has already been paid", "fine_ids")
            total = sum(r["amount_fen"] for r in rows)
            order = bo.order(conn, body.payment_order_id, at)
            if order.status != "paid":
                raise Rejection(409, "payment_not_completed", f"the payment order is {order.status}", "payment_order_id")
            used = conn.execute("SELECT used_by FROM payment_orders WHERE order_id = ?", (order.order_id,)).fetchone()[0]
            if used:
                raise Rejection(409, "payment_order_already_used", "the payment order already paid for something else", "payment_order_id")
            if order.amount_fen != total:
                raise Rejection(422, "amount_mismatch", "the order amount differs from the fines' total", "payment_order_id")
            receipt = numbers.daily_id("FP", at.date(), db.next_number("FP"))
            conn.execute(f"UPDATE fines SET receipt_number = ?, paid_at = ? WHERE fine_id IN ({marks})", [receipt, at.isoformat(), *body.fine_ids])
            conn.execute("UPDATE payment_orders SET used_by = ? WHERE order_id = ?", (receipt, order.order_id))
            return receipt, FinePaymentReceipt(
                receipt_number=receipt, fine_ids=list(body.fine_ids), total_fen=total,
                payment_order_id=order.order_id, paid_at=at,
            )

        return bo.submit(request, key, "fine_payment", body, effect)

    @api.post("/v1/traffic/inspection-exempt", status_code=201)
    async def inspection_exempt(body: InspectionExemptRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            today = at.date()
            failure = rules.inspection_failure(body, today)
            if failure:
                raise Rejection(422, failure.code, failure.message, failure.field)
            if any(not f.paid for f in bo.fines(conn, body.plate, today)):
                raise Rejection(409, "unpaid_fines", "traffic fines on this vehicle must be settled first", "plate")
            n = db.next_number("IE")
            year = rules.inspection_year(body.registration_date, today)
            app_id = numbers.daily_id("IE", today, n)
            return app_id, InspectionExemptLabel(
                application_id=app_id, label_number=f"JY{today:%Y}{settings.region_code}{n:08d}", inspection_year=year,
                valid_until=seed.add_years(body.registration_date, year + 2) - dt.timedelta(days=1),
                fee_fen=0, accepted_at=at,
            )

        return bo.submit(request, key, "inspection_exempt", body, effect)

    # ------------------------------------------------------------ tax

    @api.post("/v1/tax/invoices", status_code=201)
    async def tax_invoice(body: InvoiceRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            if not body.real_name_check.passed:
                raise Rejection(422, "real_name_check_failed", "the buyer's real-name check did not pass", "real_name_check")
            number = numbers.invoice_number(db.next_number("INV"), at.date(), settings.region_code)
            rate = body.tax_rate_percent
            net = (body.amount_fen * 100 + (100 + rate) // 2) // (100 + rate)
            tax = body.amount_fen - net
            buyer = f"{v.mask_name(body.buyer_name)}（{v.mask_id_number(body.buyer_id_number)}）"
            lines = documents.invoice_lines(
                number=number, issued_at=at, buyer=buyer, item=body.item, net_fen=net, tax_fen=tax,
                amount_fen=body.amount_fen, rate=rate,
            )
            return number, Invoice(
                invoice_number=number, issued_at=at, item=body.item, amount_fen=body.amount_fen, tax_fen=tax,
                net_fen=net, buyer=buyer, printable_lines=lines, pdf_path=f"/v1/tax/invoices/{number}/pdf",
            )

        return bo.submit(request, key, "tax_invoice", body, effect)

    @api.get("/v1/tax/invoices/{invoice_number}/pdf")
    async def tax_invoice_pdf(invoice_number: str) -> Response:
        rows = db.query("SELECT response_json FROM submissions WHERE kind = 'tax_invoice' AND id = ?", invoice_number)
        if not rows:
            raise Rejection(404, "invoice_not_found", "no such invoice")
        invoice = Invoice.model_validate_json(rows[0]["response_json"])
        pdf = documents.render_pdf(invoice.printable_lines, title=f"Invoice {invoice.invoice_number}")
        return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{invoice_number}.pdf"'})

    # ------------------------------------------------------------ post

    @api.post("/v1/post/waybills", status_code=201)
    async def waybill(body: WaybillRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            n = db.next_number("WB")
            waybill_id = numbers.daily_id("WB", at.date(), n)
            tracking = numbers.s10_number(10_000_000 + n)
            destination = body.address.province + body.address.city
            fee = 1_500 if body.address.province == settings.home_province else 2_000
            conn.execute(
                "INSERT INTO waybills (waybill_id, tracking_number, destination, created_at) VALUES (?, ?, ?, ?)",
                (waybill_id, tracking, destination, at.isoformat()),
            )
            return waybill_id, Waybill(
                waybill_id=waybill_id, tracking_number=tracking, fee_fen=fee, destination=destination, created_at=at
            )

        return bo.submit(request, key, "waybill", body, effect)

    @api.get("/v1/post/tracking/{tracking_number}")
    async def tracking(tracking_number: str) -> Response:
        if not numbers.is_valid_s10(tracking_number):
            raise Rejection(422, "invalid_tracking_number", "not a valid S10 tracking number", "tracking_number")
        rows = db.query("SELECT * FROM waybills WHERE tracking_number = ?", tracking_number)
        if not rows:
            raise Rejection(404, "tracking_number_not_found", "no such tracking number")
        created = dt.datetime.fromisoformat(rows[0]["created_at"])
        destination = rows[0]["destination"]
        home = settings.home_province
        steps = [
            (0, "created", home, "收寄信息已录入（自助终端）"),
            (2, "collected", home, "邮件已收寄"),
            (12, "in_transit", home, "邮件已发往" + destination),
            (36, "out_for_delivery", destination, "投递员正在派送"),
            (48, "delivered", destination, "邮件已妥投"),
        ]
        at = now()
        events = [
            TrackingEvent(at=created + dt.timedelta(hours=h), status=s, location=loc, description=d)
            for h, s, loc, d in steps
            if created + dt.timedelta(hours=h) <= at
        ]
        return _json(TrackingInfo(tracking_number=tracking_number, status=events[-1].status, events=events))

    # ------------------------------------------------------------ payment

    @api.post("/v1/payments/orders", status_code=201)
    async def payment_create(body: PaymentOrderRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            order_id = numbers.daily_id("PO", at.date(), db.next_number("PO"))
            expires = at + dt.timedelta(seconds=provisional.order_ttl(body, settings.order_ttl_s))
            conn.execute(
                "INSERT INTO payment_orders (order_id, amount_fen, description, reference, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (order_id, body.amount_fen, body.description, body.reference, at.isoformat(), expires.isoformat()),
            )
            return order_id, bo.order(conn, order_id, at)

        return bo.submit(request, key, "payment_order", body, effect)

    @api.get("/v1/payments/orders/{order_id}")
    async def payment_status(order_id: str) -> Response:
        with db.transaction() as conn:
            return _json(bo.order(conn, order_id, now()))

    @api.post("/v1/payments/orders/{order_id}/cancel", status_code=201)
    async def payment_cancel(order_id: str, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            order = bo.order(conn, order_id, at)
            if order.status == "paid":
                raise Rejection(409, "order_already_paid", "the order has been paid and cannot be cancelled")
            if order.status == "pending":
                conn.execute("UPDATE payment_orders SET cancelled_at = ? WHERE order_id = ?", (at.isoformat(), order_id))
                order = bo.order(conn, order_id, at)
            return order_id, order

        return bo.submit(request, key, "payment_cancel", None, effect)

    # ------------------------------------------------------------ test and fault controls

    @api.post("/v1/_test/payments/{order_id}/pay")
    async def test_pay(order_id: str) -> Response:
        """The simulated citizen scans the QR code and pays."""
        with db.transaction() as conn:
            at = now()
            order = bo.order(conn, order_id, at)
            if order.status in ("cancelled", "expired"):
                raise Rejection(409, f"order_{order.status}", f"the order is {order.status}")
            if order.status == "pending":
                conn.execute("UPDATE payment_orders SET paid_at = ? WHERE order_id = ?", (at.isoformat(), order_id))
            return _json(bo.order(conn, order_id, at))

    @api.post("/v1/_test/payments/{order_id}/expire")
    async def test_expire(order_id: str) -> Response:
        with db.transaction() as conn:
            at = now()
            order = bo.order(conn, order_id, at)
            if order.status == "pending":
                conn.execute("UPDATE payment_orders SET expires_at = ? WHERE order_id = ?", (at.isoformat(), order_id))
            return _json(bo.order(conn, order_id, at))

    terminal.register(api, bo)  # invoice terminal: queue, paper stock, numbers

    @api.get("/v1/_faults")
    async def faults_get() -> Response:
        return _json(bo.faults.snapshot())

    @api.post("/v1/_faults")
    async def faults_set(config: FaultConfig) -> Response:
        bo.faults.configure(config)
        return _json(bo.faults.snapshot())

    @api.delete("/v1/_faults")
    async def faults_clear() -> Response:
        bo.faults.clear()
        return _json(bo.faults.snapshot())

    errand_routes.register(api, bo)  # vehicle licence, property certificate
    card_routes.register(api, bo)  # transit-card top-up
    provisional.add_routes(api, bo, now)
    document_routes.register(api, bo)  # government-service papers received, results mailed back
    identity.register(api, bo)  # CTID-style face verification of the simulated card holders
    return api


def create_app(settings: Settings) -> BackOfficeApp:
    return BackOfficeApp(settings)
