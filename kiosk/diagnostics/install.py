"""Put the staff screens into a running app: the PIN and diagnostics screens, the hidden corner.

Kept apart from `Diagnostics` (the service the screens use) so that the service never
imports its own screens: `KioskApp.build()` calls `install_diagnostics(diag, app)`.
"""

from __future__ import annotations

import logging
from typing import Any

from kiosk.diagnostics.gesture import HiddenCorner
from kiosk.diagnostics.screens import DiagnosticsScreen
from kiosk.diagnostics.service import Diagnostics
from kiosk.diagnostics.staff_screens import StaffLoginScreen

CORNER_SCREENS = ("home", "out_of_service")


def install_diagnostics(diag: Diagnostics, app: Any) -> None:
    """Called from `KioskApp.build()` once its screens exist (UI thread)."""
    diag.app = app
    logging.getLogger().addHandler(diag.log_buffer)
    for cls in (StaffLoginScreen, DiagnosticsScreen):
        screen = cls(app, diag)
        app.screens[cls.kind] = screen
        app.sm.add_widget(screen)
    diag.handler.screenshot_source = diag.grab_screen
    diag.handler.screenshot_blocked = diag.screenshot_refusal
    app.session.listeners.append(diag.count_flow)
    diag.handler.check_config = app.check_fleet_settings  # services switched per kiosk by the fleet
    diag.handler.config_listeners.append(app.apply_fleet_settings)
    diag.load_fleet_config()
    diag.corners = []
    for name in CORNER_SCREENS:
        corner = HiddenCorner(diag.open_login, hold_s=diag.settings.hold_s, side_px=diag.settings.corner_px)
        app.screens[name].add_widget(corner)
        diag.corners.append(corner)
