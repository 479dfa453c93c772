"""Routes of government-service document delivery (政务服务件寄递): the hall receives a matter's
application papers as one PDF for the department, and the result is mailed back.

POST /v1/documents/submissions announces the papers (matter, pages, SHA-256 and size of the
PDF) and answers the submission id and the envelope's barcode; PUT …/{id}/pdf delivers the
PDF, which must match the announced digest and be a PDF with that many pages. Stored: the
submission (matter, department, pages, digest, size, times) — not the applicant's ID
number and not the PDF: the reference back office keeps the digest as its proof of receipt
and forwards nothing (a real one hands the file to the department's system).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from backoffice import numbers
from backoffice.http import Rejection, json_response, now
from flows.catalogue import MATTERS
from flows.services.hall_models import DocumentSubmission, DocumentSubmissionRequest, DocumentUpload

MAX_PDF_BYTES = 50_000_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS document_submissions (
    submission_id TEXT PRIMARY KEY,
    matter TEXT NOT NULL,
    department TEXT NOT NULL,
    pages INTEGER NOT NULL,
    pdf_sha256 TEXT NOT NULL,
    pdf_bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    received_at TEXT
);
"""
_PAGE_RE = re.compile(rb"/Type\s*/Page(?!s)")


def pdf_pages(pdf: bytes) -> int:
    """Page objects in an (uncompressed-xref) PDF such as img2pdf writes."""
    return len(_PAGE_RE.findall(pdf))


def register(api: FastAPI, bo: Any) -> None:
    db = bo.db
    db.add_schema(SCHEMA)
    key_header = Header(default=None, alias="Idempotency-Key")
    departments = {m.key: m.department for m in MATTERS}

    @api.post("/v1/documents/submissions", status_code=201)
    async def submit(body: DocumentSubmissionRequest, request: Request, key: str | None = key_header) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            if body.matter not in departments:
                raise Rejection(422, "unknown_matter", "this hall does not accept papers for that matter", "matter")
            sub_id = numbers.daily_id("GD", at.date(), db.next_number("GD"))
            conn.execute("INSERT INTO document_submissions (submission_id, matter, department, pages, pdf_sha256,"
                         " pdf_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (sub_id, body.matter, departments[body.matter], body.pages, body.pdf_sha256, body.pdf_bytes,
                          at.isoformat()))
            return sub_id, DocumentSubmission(submission_id=sub_id, matter=body.matter,
                                              department=departments[body.matter], pages=body.pages,
                                              envelope_barcode=sub_id, accepted_at=at)

        return bo.submit(request, key, "document_submission", body, effect)

    @api.put("/v1/documents/submissions/{submission_id}/pdf", status_code=201)
    async def upload(submission_id: str, request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0] != "application/pdf":
            raise Rejection(415, "not_a_pdf", "send the papers as application/pdf")
        pdf = await request.body()
        rows = db.query("SELECT * FROM document_submissions WHERE submission_id = ?", submission_id)
        if not rows:
            raise Rejection(404, "submission_not_found", "no such submission")
        row = rows[0]
        digest = hashlib.sha256(pdf).hexdigest()
        if len(pdf) > MAX_PDF_BYTES or not pdf.startswith(b"%PDF-"):
            raise Rejection(422, "not_a_pdf", "the upload is not a PDF")
        if digest != row["pdf_sha256"] or len(pdf) != row["pdf_bytes"]:
            raise Rejection(422, "pdf_digest_mismatch", "the PDF differs from the one announced")
        if pdf_pages(pdf) != row["pages"]:
            raise Rejection(422, "pdf_page_count_mismatch", "the PDF has another number of pages than announced")
        received = row["received_at"]
        if received is None:
            received = now().isoformat()
            with db.transaction() as conn:
                conn.execute("UPDATE document_submissions SET received_at = ? WHERE submission_id = ?",
                             (received, submission_id))
        return json_response(DocumentUpload(submission_id=submission_id, pdf_sha256=digest, pdf_bytes=len(pdf),
                                            received_at=dt.datetime.fromisoformat(received)), status=201)
