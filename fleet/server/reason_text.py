"""Reason codes said plainly, for operators: why a bundle was refused at upload, and why a
kiosk of a rollout failed, was deferred or left it. The codes stay beside the sentence
(they are what the logs, the API and the CLI carry: `fleet.bundle.errors.ReasonCode` plus
the server's own); a code with no sentence here is shown as it is."""

from __future__ import annotations

from fleet.bundle.errors import ReasonCode

PLAIN: dict[str, str] = {
    # the bundle (at upload and on the kiosk)
    "not_configured": "The server trusts no update key, so it cannot check any bundle. Start it with --trusted-key.",
    ReasonCode.MALFORMED_BUNDLE: "This file is not an update bundle: it could not be read as one.",
    ReasonCode.UNSIGNED: "The bundle is not signed. Sign it (kiosk-fleet bundle sign) and upload it again.",
    ReasonCode.UNTRUSTED_KEY: "The bundle is signed by a key this server does not trust, so no kiosk would install it.",
    ReasonCode.BAD_SIGNATURE: "The signature does not match: the bundle was changed after it was signed, "
                              "or the signature is damaged.",
    ReasonCode.MISSING_FILE: "A file the signed manifest lists is missing from the bundle.",
    ReasonCode.UNEXPECTED_FILE: "The bundle holds a file its signed manifest does not list.",
    ReasonCode.SIZE_MISMATCH: "A file in the bundle is not the size that was signed: it was changed after signing.",
    ReasonCode.HASH_MISMATCH: "A file in the bundle differs from what was signed: it was changed after signing.",
    "too_large": "The file is larger than this server accepts.",
    ReasonCode.VERSION_MISMATCH: "The bundle the kiosk got is not the version it was asked to install.",
    ReasonCode.DOWNGRADE: "The kiosk runs a newer version and the rollout does not allow going down.",
    ReasonCode.FROM_VERSION_TOO_OLD: "The kiosk's version is too old for this release; it needs an earlier step first.",
    ReasonCode.PREVIOUSLY_FAILED: "This release already failed on this kiosk and was rolled back; it is not tried again.",
    # on the way
    ReasonCode.DOWNLOAD_FAILED: "The kiosk could not download the bundle (network or server); it retries.",
    ReasonCode.DOWNLOAD_CORRUPT: "The downloaded bundle was not the one announced (size or checksum).",
    ReasonCode.DISK_FULL: "The kiosk has no room for the bundle; the partial download was removed.",
    ReasonCode.SESSION_ACTIVE: "A citizen was using the kiosk; it installs after the session.",
    ReasonCode.OUTSIDE_MAINTENANCE_WINDOW: "Outside the kiosk's maintenance window; it installs in the next one.",
    # installing and running
    ReasonCode.INSTALL_FAILED: "Installing the release failed; the kiosk kept the old one.",
    ReasonCode.RESTART_FAILED: "The new release did not start; the kiosk went back to the old one.",
    ReasonCode.UNHEALTHY: "The new release started but did not become healthy; the kiosk went back to the old one.",
    ReasonCode.HEALTH_TIMEOUT: "The new release never answered its health check; the kiosk went back to the old one.",
    ReasonCode.INTERRUPTED: "The install was interrupted (power loss or restart) and undone; the kiosk tries again.",
    # the server's own
    "stage_deadline": "No final report before the wave's deadline: counted as failed.",
    "rollout_aborted": "The rollout stopped by itself before this kiosk started: its update was withdrawn.",
    "rollout_cancelled": "An operator aborted the rollout before this kiosk started: its update was withdrawn.",
    "joined_target": "It joined the target (a label or group changed) while the rollout ran.",
    "left_target": "It left the target before it was asked.",
}


def plain(code: str) -> str:
    """The sentence for `code`, or "" when there is none."""
    return PLAIN.get(code, "")
