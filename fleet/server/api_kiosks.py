"""REST API of the kiosk list for a big fleet: search with filters, sort and paging; bulk
actions; where a kiosk stands (its site); each operator's saved views.

`webapp` includes this router before `api`, so `/api/kiosks/search` is not taken for a
kiosk id by `GET /api/kiosks/{kiosk_id}`. Roles as everywhere in the API: viewers read
and keep their own saved views, operators act (bulk, sites).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from fleet.server import audit
from fleet.server.api import KioskId, Operator, Viewer, server_of, source_of
from fleet.server.kiosk_bulk import BulkRequest, BulkResult, run_bulk
from fleet.server.kiosk_query import Facets, KioskPage, KioskQuery, facets, search
from fleet.server.models import KioskSite, SavedView, utcnow

router = APIRouter(prefix="/api")


class SiteRequest(BaseModel):
    name: str = Field(default="", max_length=128)
    hall: str = Field(default="", max_length=128)
    district: str = Field(default="", max_length=64)
    region: str = Field(default="", max_length=64)


class SiteView(SiteRequest):
    kiosk_id: str


class SavedViewRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    query: str = Field(default="", max_length=2000, description="the kiosk list's query string, e.g. status=offline")


class SavedViewView(SavedViewRequest):
    id: int


@router.get("/kiosks/search", response_model=KioskPage, tags=["kiosks"])
def search_kiosks(request: Request, who: Viewer, query: Annotated[KioskQuery, Query()]) -> KioskPage:
    """One page of the kiosk list: search by id, name or hall; filters; sort; paging; with
    the total, the region/district grouping and the count per status."""
    server = server_of(request)
    with server.db.session() as session:
        return search(session, query, server.settings.default_heartbeat_s, server.settings.missed_heartbeats)


@router.get("/kiosks/facets", response_model=Facets, tags=["kiosks"])
def kiosk_facets(request: Request, who: Viewer) -> Facets:
    with server_of(request).db.session() as session:
        return facets(session)


@router.post("/kiosks/bulk", response_model=BulkResult, tags=["kiosks"])
def bulk(request: Request, body: BulkRequest, who: Operator) -> BulkResult:
    """A command, a configuration change or a label on up to 2,000 kiosks; each kiosk is
    audited as a single action would be, plus one `bulk` record."""
    return run_bulk(server_of(request), who.username, body, source_of(request))


def save_site(request: Request, operator: str, kiosk_id: str, body: SiteRequest) -> SiteView:
    with server_of(request).db.session() as session:
        site = session.get(KioskSite, kiosk_id) or KioskSite(kiosk_id=kiosk_id)
        site.name, site.hall, site.district, site.region = body.name, body.hall, body.district, body.region
        site.updated_at, site.updated_by = utcnow(), operator
        session.add(site)
        audit.record(session, operator, "site", kiosk_id, source=source_of(request), detail=body.model_dump())
    return SiteView(kiosk_id=kiosk_id, **body.model_dump())


@router.put("/kiosks/{kiosk_id}/site", response_model=SiteView, tags=["kiosks"])
def put_site(request: Request, kiosk_id: KioskId, body: SiteRequest, who: Operator) -> SiteView:
    """Where the kiosk stands (name, hall, district, region); it need not have connected yet."""
    return save_site(request, who.username, kiosk_id, body)


def saved_views(request: Request, operator: str) -> list[SavedViewView]:
    with server_of(request).db.session() as session:
        return [SavedViewView(id=v.id, name=v.name, query=v.query) for v in session.scalars(
            select(SavedView).where(SavedView.operator == operator).order_by(SavedView.name))]


def save_view(request: Request, operator: str, body: SavedViewRequest) -> SavedViewView:
    """Create or replace the operator's view of that name (the query is checked first)."""
    _, errors = KioskQuery.from_params(dict(parse_qsl(body.query.lstrip("?"))))
    if errors:
        raise HTTPException(422, f"bad view: {errors[0]}")
    try:
        with server_of(request).db.session() as session:
            row = session.scalar(select(SavedView).where(SavedView.operator == operator, SavedView.name == body.name))
            row = row or SavedView(operator=operator, name=body.name)
            row.query, row.created_at = body.query.lstrip("?"), utcnow()
            session.add(row)
            session.flush()
            return SavedViewView(id=row.id, name=row.name, query=row.query)
    except IntegrityError:  # the same name saved twice at once
        raise HTTPException(409, f"a view named {body.name!r} was just saved; try again") from None


def delete_view(request: Request, operator: str, view_id: int) -> None:
    with server_of(request).db.session() as session:
        gone = session.execute(delete(SavedView).where(SavedView.id == view_id, SavedView.operator == operator)).rowcount
    if not gone:
        raise HTTPException(404, f"no saved view {view_id}")


@router.get("/views", response_model=list[SavedViewView], tags=["kiosks"])
def get_views(request: Request, who: Viewer) -> list[SavedViewView]:
    """The caller's saved views of the kiosk list."""
    return saved_views(request, who.username)


@router.post("/views", response_model=SavedViewView, status_code=201, tags=["kiosks"])
def post_view(request: Request, body: SavedViewRequest, who: Viewer) -> SavedViewView:
    return save_view(request, who.username, body)


@router.delete("/views/{view_id}", status_code=204, tags=["kiosks"])
def del_view(request: Request, view_id: int, who: Viewer) -> None:
    delete_view(request, who.username, view_id)
