"""The staff PIN behind the flows' staff identity check (`FlowDeps.staff_pin`).

When a citizen chooses staff instead of the face check (or the face check failed three
times), a member of staff compares them with their ID card in person and confirms it with
the same staff PIN as the diagnostics screen (`StaffAuth`: scrypt, and the same persisted
lockout, so the citizen screen gives no fresh guesses at a locked PIN). Each confirmation
becomes a `staff_action` event (`identity_check`) for the fleet's audit log; the flow itself
sends the check to the back office with method "staff". No citizen data is recorded here.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from kiosk.diagnostics.actions import StaffAction, StaffActions
from kiosk.diagnostics.staff_auth import AuthResult, StaffAuth

log = logging.getLogger(__name__)

VIRTUAL_PIN = "246810"  # the virtual kiosk's staff PIN (as `kiosk terminal --virtual`); never on a real kiosk

_OUTCOME = {AuthResult.OK: "confirmed", AuthResult.WRONG: "wrong_pin", AuthResult.LOCKED: "locked",
            AuthResult.NO_PIN: "no_pin"}


class StaffIdentityCheck:
    """`await check(pin)` → True when staff confirmed the citizen with a good PIN."""

    def __init__(self, auth: StaffAuth, actions: StaffActions | None = None) -> None:
        self.auth = auth
        self.actions = actions

    async def __call__(self, pin: str) -> bool:
        try:
            outcome = await asyncio.to_thread(self.auth.check, pin)  # scrypt: never on the flow loop
        except Exception:
            log.exception("staff identity check: the PIN could not be checked")
            self._record("error")
            return False
        self._record(_OUTCOME[outcome.result],
                     count=self.auth.max_failures - outcome.failures_left if outcome.result is AuthResult.WRONG else None)
        if outcome.just_locked and self.actions is not None:
            self.actions.record(StaffAction.LOCKOUT, count=round(self.auth.lockout_s))
        return outcome.ok

    def _record(self, outcome: str, count: int | None = None) -> None:
        if self.actions is not None:
            self.actions.record(StaffAction.IDENTITY_CHECK, outcome=outcome, count=count)


def for_diagnostics(diagnostics: Any) -> StaffIdentityCheck:
    """The check on the app's diagnostics PIN store, audited with its staff actions."""
    return StaffIdentityCheck(diagnostics.auth, diagnostics.actions)


def ensure_virtual_pin(auth: StaffAuth) -> None:
    """The virtual kiosk only: a known PIN when none is set, said on stderr."""
    if not auth.has_pin():
        auth.set_pin(VIRTUAL_PIN)
        print(f"kiosk run --virtual: staff PIN {VIRTUAL_PIN} (virtual kiosk only)", file=sys.stderr)
