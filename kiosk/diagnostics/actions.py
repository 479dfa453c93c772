"""Every staff action on the diagnostics screen becomes an app event for the fleet's audit log.

The event goes into the control socket's `EventBuffer`; the agent fetches it with the
``events`` request, stores it in its outbox and publishes it as a QoS 1 `Event`
(``kind=staff_action``) that the fleet server files under events/audit. Events name
what was done (``action``), to which device and with which outcome (``reason``), and
counts — never who (the PIN is shared by the staff of a post office) and never a value
a citizen could be recognised by.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from fleet.protocol.control import AppEvent
from fleet.protocol.messages import DeviceKind, EventKind
from fleet.protocol.privacy import find_personal_data

log = logging.getLogger(__name__)


class StaffAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOCKOUT = "lockout"
    LOGIN_REFUSED_LOCKED = "login_refused_locked"
    IDENTITY_CHECK = "identity_check"  # staff confirmed a citizen with the PIN instead of the face check
    LOGOUT = "logout"
    SELF_TEST = "self_test"
    TEST_PAGE = "test_page"
    CALIBRATION = "bp_calibration"
    EYE_CHECK = "eye_check"
    SPEAKER_TEST = "speaker_test"
    AUDIO_CALIBRATION = "audio_calibration"
    CAMERA_PREVIEW = "camera_preview"
    LIVENESS_DEMO = "liveness_demo"
    VIEW_LOGS = "view_logs"
    OUT_OF_SERVICE_ON = "out_of_service_on"
    OUT_OF_SERVICE_OFF = "out_of_service_off"


class StaffActions:
    """Records staff actions into an `EventBuffer` (thread-safe: it locks)."""

    def __init__(self, events) -> None:
        self.events = events  # kiosk.control.EventBuffer

    def record(self, action: StaffAction, *, device: DeviceKind | str | None = None, outcome: str = "",
               count: int | None = None, detail: str = "") -> AppEvent | None:
        if find_personal_data(f"{outcome} {detail}"):  # defensive: callers pass codes and numbers only
            detail, outcome = "", outcome if not find_personal_data(outcome) else ""
        try:
            event = self.events.record(EventKind.STAFF_ACTION, action=str(action),
                                       device=DeviceKind(str(device)) if device else None,
                                       reason=outcome[:100], count=count, detail=detail[:300])
        except Exception:  # auditing must not break the screen; say so loudly
            log.exception("staff action %s could not be recorded", action)
            return None
        log.info("staff action: %s%s%s", action, f" {device}" if device else "", f" {outcome}" if outcome else "")
        return event
