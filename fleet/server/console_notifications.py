"""Console page: the history of alert notifications (what was sent, held, suppressed or
failed, to which channel, by which rule). Its own router so console.py stays small;
`webapp` includes it. Acknowledging is on the alerts page (it stops escalation)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from fleet.server.api import server_of
from fleet.server.console import _render, _who
from fleet.server.models import Notification

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(request: Request, limit: int = 500) -> HTMLResponse:
    who = _who(request)
    with server_of(request).db.session() as session:
        rows = list(session.scalars(select(Notification).order_by(Notification.created_at.desc(), Notification.id.desc())
                                    .limit(max(1, min(limit, 5000)))))
    return _render(request, "notifications.html", who, notifications=rows)
