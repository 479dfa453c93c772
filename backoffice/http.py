"""What every route module of the reference back office shares: the refusal type, the clock
and the JSON response (kept apart from app.py so route modules need not import the app)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel

TZ = dt.timezone(dt.timedelta(hours=8), "CST")  # China Standard Time, no DST


class Rejection(Exception):
    """A refusal with a reason code; becomes {"error": {...}} with `status`."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def now() -> dt.datetime:
    return dt.datetime.now(TZ)


def json_response(model: BaseModel | list[Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = model.model_dump_json() if isinstance(model, BaseModel) else json.dumps(model, ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json", headers=headers)
