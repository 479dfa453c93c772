"""The fleet server's ASGI app: the REST API under /api and the web console under /console.

It is the one module that joins the two routers, so `api` and `console` never import each
other both ways (the console builds on the API's operations, not the reverse).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from fleet.server.api import api
from fleet.server.api_history import router as history_api
from fleet.server.api_kiosks import router as kiosks_api
from fleet.server.api_security import router as credentials_api
from fleet.server.api_stats import router as stats_api
from fleet.server.console import LoginRequired, console, login_redirect
from fleet.server.console_history import router as history_console
from fleet.server.console_config import router as config_console
from fleet.server.console_kiosks import router as kiosks_console
from fleet.server.console_notifications import router as notifications_console
from fleet.server.console_security import router as security_console
from fleet.server.console_rollouts import router as rollouts_console
from fleet.server.console_stats import router as stats_console
from fleet.server.security_headers import SecurityHeaders
from fleet.server.service import SERVER_VERSION, FleetServer


def create_app(server: FleetServer) -> FastAPI:
    """The ASGI app for one FleetServer (tests and `kiosk-fleet-server` both build it here)."""
    app = FastAPI(title="Kiosk fleet server", version=SERVER_VERSION,
                  description="Kiosks, health, alerts, commands, configuration and audit of the kiosk fleet.")
    app.state.server = server
    app.include_router(kiosks_api)  # before `api`: /api/kiosks/search is not a kiosk id
    app.include_router(api)
    app.include_router(stats_api)
    app.include_router(kiosks_console)
    app.include_router(credentials_api)
    app.include_router(history_api)
    app.include_router(config_console)
    app.include_router(console)
    app.include_router(notifications_console)
    app.include_router(security_console)
    app.include_router(rollouts_console)
    app.include_router(history_console)
    app.include_router(stats_console)
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_middleware(SecurityHeaders)  # CSP, frame-ancestors, nosniff, referrer policy

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=303)

    return app
