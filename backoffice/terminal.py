"""The invoice terminal's services in the reference back office (docs/terminal.md).

- application queue: online applications (issue + mail, requisitions) waiting for a
  terminal; the address of an issue + mail one is kept only until it is completed;
- tax core (金三): number allocation (a range per roll), roll activation, paper invoices
  assigned the next number of the terminal's active roll, voids, requisitions;
- VAT invoice system (防伪税控): the number it last wrote on the terminal's roll.

Every write is an idempotent submission (`BackOfficeApp.submit`). Fault injection beyond
the generic latency / 5xx / dropped answers of faults.py: a wrong number now and then in
the answer of the tax core or of the invoice system — only the answer on the wire is
wrong, the record stays right (so a replay with the same key, or asking again, gives the
true number, as after a glitch in a real link). Counts of injected wrong numbers are kept
for the benchmark.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from backoffice import documents
from backoffice.http import Rejection, now
from backoffice.http import json_response as _json
from backoffice.testing import address, make_id
from flows.services import validation as v
from flows.services.models import MailingAddress
from flows.services.terminal_models import (
    AllocationRequest,
    ApplicationCompleted,
    ApplicationDetail,
    ApplicationQueue,
    CompletionRequest,
    InvoiceSystemNumber,
    PaperInvoice,
    PaperInvoiceRequest,
    Requisition,
    RequisitionRequest,
    RollActivation,
    RollState,
    SeedApplications,
    StockAllocation,
    TerminalApplication,
    TerminalFaultCounts,
    TerminalFaults,
    VoidRecord,
    VoidRequest,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS terminal_applications (
    application_id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, item TEXT NOT NULL,
    amount_fen INTEGER NOT NULL, tax_rate INTEGER NOT NULL, requisition_count INTEGER NOT NULL,
    buyer TEXT NOT NULL, address_json TEXT, created_at TEXT NOT NULL, completed_at TEXT, result_json TEXT
);
CREATE TABLE IF NOT EXISTS terminal_allocations (
    invoice_code TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, terminal_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS terminal_rolls (
    terminal_id TEXT PRIMARY KEY, invoice_code TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    core_next INTEGER NOT NULL, system_next INTEGER NOT NULL, system_last INTEGER
);
CREATE TABLE IF NOT EXISTS paper_numbers (
    invoice_code TEXT NOT NULL, number INTEGER NOT NULL, status TEXT NOT NULL, source TEXT,
    PRIMARY KEY (invoice_code, number)
);
"""
NAMES = ("张秀兰", "李建国", "王芳", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴婷")
DISTRICTS = ("渝中区", "江北区", "南岸区", "沙坪坝区", "九龙坡区", "渝北区")
ITEMS = ("房屋租金", "咨询服务费", "劳务报酬", "设计服务费", "培训服务费")


class TerminalFaultInjector:
    """Decides, per answer, whether to send a wrong number; counts what it injected."""

    def __init__(self) -> None:
        self.configure(TerminalFaults())

    def configure(self, faults: TerminalFaults) -> None:
        self.faults = faults.model_copy()
        self._core_next, self._system_next = faults.core_wrong_next, faults.system_wrong_next
        self._rng = random.Random(faults.seed)
        self.core_injected = self.system_injected = 0

    def core(self) -> bool:
        if self._core_next > 0 or self._rng.random() < self.faults.core_wrong_rate:
            self._core_next = max(0, self._core_next - 1)
            self.core_injected += 1
            return True
        return False

    def system(self) -> bool:
        if self._system_next > 0 or self._rng.random() < self.faults.system_wrong_rate:
            self._system_next = max(0, self._system_next - 1)
            self.system_injected += 1
            return True
        return False


def _num(n: int) -> str:
    return f"{n:08d}"


def _wrong(number: str, rng: random.Random) -> str:
    """A plausible wrong number: one or two off either way (never the right one)."""
    return _num(max(0, int(number) + rng.choice((-2, -1, 1, 2))))


def register(api: FastAPI, bo: Any) -> None:
    """Add the terminal's routes to the back office's API (`bo`: the BackOfficeApp that calls this)."""
    db = bo.db
    with db._lock:
        db.conn.executescript(SCHEMA)
    faults = bo.terminal_faults = TerminalFaultInjector()
    KeyHeader = Header(default=None, alias="Idempotency-Key")

    def application(conn: sqlite3.Connection, app_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM terminal_applications WHERE application_id = ?", (app_id,)).fetchone()
        if row is None:
            raise Rejection(404, "application_not_found", "no such application")
        return row

    def listed(row: sqlite3.Row) -> TerminalApplication:
        return TerminalApplication(
            application_id=row["application_id"], kind=row["kind"], status=row["status"], item=row["item"],
            amount_fen=row["amount_fen"], tax_rate_percent=row["tax_rate"], requisition_count=row["requisition_count"],
            buyer=row["buyer"], created_at=dt.datetime.fromisoformat(row["created_at"]))

    def roll(conn: sqlite3.Connection, terminal_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM terminal_rolls WHERE terminal_id = ?", (terminal_id,)).fetchone()
        if row is None:
            raise Rejection(409, "no_roll_loaded", "no invoice roll is active on this terminal")
        return row

    def roll_state(row: sqlite3.Row) -> RollState:
        return RollState(terminal_id=row["terminal_id"], invoice_code=row["invoice_code"],
                         core_next=_num(row["core_next"]), system_next=_num(row["system_next"]),
                         last_number=_num(row["last"]))

    # ------------------------------------------------------------ queue

    @api.get("/v1/terminal/applications")
    async def queue(limit: int = 20) -> Response:
        rows = db.query("SELECT * FROM terminal_applications WHERE status = 'pending' ORDER BY created_at, "
                        "application_id LIMIT ?", max(1, min(limit, 200)))
        total = db.query("SELECT COUNT(*) AS n FROM terminal_applications WHERE status = 'pending'")[0]["n"]
        return _json(ApplicationQueue(applications=[listed(r) for r in rows], pending_total=total))

    @api.get("/v1/terminal/applications/{app_id}")
    async def detail(app_id: str) -> Response:
        with db.transaction() as conn:
            row = application(conn, app_id)
        address = MailingAddress.model_validate_json(row["address_json"]) if row["address_json"] else None
        return _json(ApplicationDetail(application=listed(row), address=address))

    @api.post("/v1/terminal/applications/{app_id}/complete", status_code=201)
    async def complete(app_id: str, body: CompletionRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            row = application(conn, app_id)
            if row["kind"] == "issue_mail" and not (body.invoice_number and body.tracking_number):
                raise Rejection(422, "completion_incomplete", "an issue + mail application needs the invoice and waybill")
            if row["kind"] == "requisition" and not body.requisition_id:
                raise Rejection(422, "completion_incomplete", "a requisition needs its requisition id")
            if row["status"] == "done":
                raise Rejection(409, "application_already_done", "the application was completed before")
            conn.execute("UPDATE terminal_applications SET status = 'done', completed_at = ?, address_json = NULL, "
                         "result_json = ? WHERE application_id = ?",
                         (at.isoformat(), body.model_dump_json(), app_id))
            return app_id, ApplicationCompleted(application_id=app_id, status="done", completed_at=at)

        return bo.submit(request, key, "terminal_completion", body, effect)

    # ------------------------------------------------------------ tax core: stock

    @api.post("/v1/tax/terminal/allocations", status_code=201)
    async def allocate(body: AllocationRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            batch = db.next_number("ROLL")
            code = f"0{bo.settings.region_code}00{at:%y}1{batch:04d}"
            first = 1  # every allocation is a roll of its own code, numbered from 1
            last = first + body.count - 1
            conn.execute("INSERT INTO terminal_allocations VALUES (?, ?, ?, ?)", (code, first, last, body.terminal_id))
            return code, StockAllocation(invoice_code=code, first_number=_num(first), last_number=_num(last),
                                         count=body.count)

        return bo.submit(request, key, "terminal_allocation", body, effect)

    @api.post("/v1/tax/terminal/rolls", status_code=201)
    async def activate(body: RollActivation, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            first, last = int(body.first_number), int(body.last_number)
            alloc = conn.execute("SELECT * FROM terminal_allocations WHERE invoice_code = ? AND first <= ? AND last >= ?",
                                 (body.invoice_code, first, last)).fetchone()
            if alloc is None or alloc["terminal_id"] != body.terminal_id:
                raise Rejection(422, "roll_not_allocated", "these numbers are not allocated to this terminal")
            used = conn.execute("SELECT COUNT(*) FROM paper_numbers WHERE invoice_code = ? AND number BETWEEN ? AND ?",
                                (body.invoice_code, first, last)).fetchone()[0]
            if used:
                raise Rejection(409, "numbers_already_used", "some of these numbers were printed or voided before")
            conn.execute("INSERT OR REPLACE INTO terminal_rolls VALUES (?, ?, ?, ?, ?, ?, NULL)",
                         (body.terminal_id, body.invoice_code, first, last, first, first))
            return f"{body.invoice_code}:{body.first_number}", roll_state(roll(conn, body.terminal_id))

        return bo.submit(request, key, "terminal_roll", body, effect)

    # ------------------------------------------------------------ tax core: invoices

    @api.post("/v1/tax/terminal/invoices", status_code=201)
    async def issue(body: PaperInvoiceRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            if body.application_id:
                row = application(conn, body.application_id)
                if row["kind"] != "issue_mail":
                    raise Rejection(422, "not_an_invoice_application", "this application is not for an invoice")
                if row["status"] == "done":
                    raise Rejection(409, "application_already_done", "the application was completed before")
                item, amount, rate, buyer, source = row["item"], row["amount_fen"], row["tax_rate"], row["buyer"], row["application_id"]
            else:
                found = conn.execute("SELECT response_json FROM submissions WHERE kind = 'tax_invoice' AND id = ?",
                                     (body.e_invoice_number,)).fetchone()
                if found is None:
                    raise Rejection(404, "invoice_not_found", "no such e-invoice")
                e = json.loads(found[0])
                item, amount, buyer, source = e["item"], e["amount_fen"], e["buyer"], body.e_invoice_number
                rate = round(e["tax_fen"] * 100 / max(1, e["net_fen"])) if e["net_fen"] else 0
            r = roll(conn, body.terminal_id)
            if r["core_next"] > r["last"]:
                raise Rejection(409, "roll_used_up", "every number of the active roll is used")
            number = r["core_next"]
            conn.execute("INSERT INTO paper_numbers VALUES (?, ?, 'issued', ?)", (r["invoice_code"], number, source))
            conn.execute("UPDATE terminal_rolls SET core_next = ?, system_next = ?, system_last = ? WHERE terminal_id = ?",
                         (number + 1, number + 1, number, body.terminal_id))
            net = (amount * 100 + (100 + rate) // 2) // (100 + rate)
            lines = documents.paper_invoice_lines(code=r["invoice_code"], number=_num(number), issued_at=at, buyer=buyer,
                                                  item=item, net_fen=net, tax_fen=amount - net, amount_fen=amount, rate=rate)
            return f"{r['invoice_code']}:{_num(number)}", PaperInvoice(
                invoice_code=r["invoice_code"], invoice_number=_num(number), issued_at=at, item=item, amount_fen=amount,
                tax_fen=amount - net, net_fen=net, buyer=buyer, printable_lines=lines, source=source)

        response = bo.submit(request, key, "paper_invoice", body, effect)
        if response.status_code < 300 and faults.core():
            answer = json.loads(response.body)
            answer["invoice_number"] = _wrong(answer["invoice_number"], faults._rng)
            replayed = {"Idempotent-Replayed": response.headers.get("Idempotent-Replayed", "false")}
            return Response(json.dumps(answer, ensure_ascii=False), status_code=response.status_code,
                            media_type="application/json", headers=replayed)
        return response

    @api.post("/v1/tax/terminal/voids", status_code=201)
    async def void(body: VoidRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            r = roll(conn, body.terminal_id)
            numbers = sorted({int(n) for n in body.numbers})
            if r["invoice_code"] != body.invoice_code or numbers[0] < r["first"] or numbers[-1] > r["last"]:
                raise Rejection(422, "not_on_active_roll", "these numbers are not on the terminal's active roll")
            invoices = []
            for n in numbers:
                row = conn.execute("SELECT status FROM paper_numbers WHERE invoice_code = ? AND number = ?",
                                   (body.invoice_code, n)).fetchone()
                if row is None:
                    conn.execute("INSERT INTO paper_numbers VALUES (?, ?, 'voided_blank', ?)", (body.invoice_code, n, body.reason))
                elif row["status"] == "issued":
                    conn.execute("UPDATE paper_numbers SET status = 'voided' WHERE invoice_code = ? AND number = ?",
                                 (body.invoice_code, n))
                    invoices.append(_num(n))
            top = max(r["core_next"], numbers[-1] + 1)
            conn.execute("UPDATE terminal_rolls SET core_next = ?, system_next = ? WHERE terminal_id = ?",
                         (top, max(r["system_next"], top), body.terminal_id))
            return f"{body.invoice_code}:{_num(numbers[0])}", VoidRecord(
                invoice_code=body.invoice_code, numbers=[_num(n) for n in numbers], invoices_voided=invoices, voided_at=at)

        return bo.submit(request, key, "paper_void", body, effect)

    @api.post("/v1/tax/terminal/requisitions", status_code=201)
    async def requisition(body: RequisitionRequest, request: Request, key: str | None = KeyHeader) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            row = application(conn, body.application_id)
            if row["kind"] != "requisition":
                raise Rejection(422, "not_a_requisition", "this application is not a requisition")
            if row["status"] == "done":
                raise Rejection(409, "application_already_done", "the application was completed before")
            count = row["requisition_count"]
            batch = db.next_number("REQ")
            code = f"0{bo.settings.region_code}00{at:%y}2{batch:04d}"  # a box for the taxpayer, not the terminal's roll
            req_id = f"RQ{at:%Y%m%d}{batch:06d}"
            return req_id, Requisition(requisition_id=req_id, application_id=body.application_id, invoice_code=code,
                                       first_number=_num(1), last_number=_num(count), count=count,
                                       taxpayer=row["buyer"], issued_at=at)

        return bo.submit(request, key, "requisition", body, effect)

    # ------------------------------------------------------------ VAT invoice system

    @api.get("/v1/tax/invoice-system/{terminal_id}")
    async def invoice_system(terminal_id: str) -> Response:
        with db.transaction() as conn:
            r = roll(conn, terminal_id)
        last = _num(r["system_last"]) if r["system_last"] is not None else None
        if last is not None and faults.system():
            last = _wrong(last, faults._rng)
        return _json(InvoiceSystemNumber(terminal_id=terminal_id, invoice_code=r["invoice_code"], last_number=last,
                                         next_number=_num(r["system_next"])))

    @api.get("/v1/tax/terminal/rolls/{terminal_id}")
    async def roll_get(terminal_id: str) -> Response:
        with db.transaction() as conn:
            return _json(roll_state(roll(conn, terminal_id)))

    # ------------------------------------------------------------ test controls

    @api.post("/v1/_test/terminal/applications")
    async def seed(body: SeedApplications) -> Response:
        rng = random.Random(body.seed)
        made = []
        with db.transaction() as conn:
            at = now()
            for i in range(body.count):
                n = db.next_number("TA")
                app_id = f"TA{at:%Y%m%d}{n:06d}"
                name = rng.choice(NAMES)
                first17 = f"500103{1950 + rng.randrange(50)}{rng.randrange(1, 13):02d}{rng.randrange(1, 28):02d}{n % 1000:03d}"
                buyer = f"{v.mask_name(name)}（{v.mask_id_number(make_id(first17))}）"
                requisition = body.requisition_every and (i + 1) % body.requisition_every == 0
                addr = None if requisition else address(recipient_name=name, district=rng.choice(DISTRICTS))
                conn.execute(
                    "INSERT INTO terminal_applications VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    (app_id, "requisition" if requisition else "issue_mail", "" if requisition else rng.choice(ITEMS),
                     0 if requisition else rng.randrange(100_00, 50_000_00), 3, rng.choice((25, 50)) if requisition else 0,
                     buyer, addr.model_dump_json() if addr else None, (at + dt.timedelta(microseconds=i)).isoformat()))
                made.append(app_id)
        return _json(made)

    @api.get("/v1/_test/terminal/faults")
    async def faults_get() -> Response:
        return _json(TerminalFaultCounts(core_wrong_injected=faults.core_injected,
                                         system_wrong_injected=faults.system_injected))

    @api.post("/v1/_test/terminal/faults")
    async def faults_set(body: TerminalFaults) -> Response:
        faults.configure(body)
        return _json(TerminalFaultCounts(core_wrong_injected=0, system_wrong_injected=0))

    @api.get("/v1/_test/terminal/numbers/{invoice_code}")
    async def numbers(invoice_code: str) -> Response:
        rows = db.query("SELECT number, status, source FROM paper_numbers WHERE invoice_code = ? ORDER BY number", invoice_code)
        return _json([{"number": _num(r["number"]), "status": r["status"], "source": r["source"]} for r in rows])
