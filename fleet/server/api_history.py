"""REST API of the downsampled health history (fleet/server/health_history.py): one kiosk,
the whole fleet, and kiosks per app version, over a named range (6h, 24h, 7d, 30d, 90d, 1y)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request

from fleet.server.api import Viewer, server_of
from fleet.server.health_history import History, VersionHistory, fleet_history, kiosk_history, parse_range, version_history

router = APIRouter(prefix="/api", tags=["history"])
KioskId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


def span_of(range_name: str):
    try:
        return parse_range(range_name)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/kiosks/{kiosk_id}/history", response_model=History)
def get_kiosk_history(request: Request, kiosk_id: KioskId, who: Viewer, range: str = "7d") -> History:
    """Raw samples up to 12 h, hourly buckets up to 14 days, daily beyond (mean, min, max of each figure)."""
    with server_of(request).db.session() as session:
        return kiosk_history(session, kiosk_id, span_of(range))


@router.get("/history/fleet", response_model=History)
def get_fleet_history(request: Request, who: Viewer, range: str = "30d") -> History:
    """The whole fleet: kiosks reporting and each figure's mean, min and max over all kiosks."""
    with server_of(request).db.session() as session:
        return fleet_history(session, span_of(range))


@router.get("/history/versions", response_model=VersionHistory)
def get_version_history(request: Request, who: Viewer, range: str = "30d") -> VersionHistory:
    """Kiosks per app version in each bucket: rollout progress over time."""
    with server_of(request).db.session() as session:
        return version_history(session, span_of(range))
