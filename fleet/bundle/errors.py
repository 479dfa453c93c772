"""Why an update was refused, deferred, rolled back or failed: one reason code for both sides.

The fleet server refuses an uploaded bundle with the same codes a kiosk uses, because both
verify it with `fleet.bundle.archive.verify_bundle`.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Why an update was refused, deferred, rolled back or failed (stable, machine-readable)."""

    # bundle checks (refused, nothing installed)
    MALFORMED_BUNDLE = "malformed_bundle"
    UNSIGNED = "unsigned"
    UNTRUSTED_KEY = "untrusted_key"  # signed, but by no key this kiosk trusts (wrong key)
    BAD_SIGNATURE = "bad_signature"  # a trusted key id, but the signature does not verify
    MISSING_FILE = "missing_file"
    UNEXPECTED_FILE = "unexpected_file"
    SIZE_MISMATCH = "size_mismatch"
    HASH_MISMATCH = "hash_mismatch"  # a file differs from its signed hash (tampered)
    VERSION_MISMATCH = "version_mismatch"  # bundle is not the version that was asked for
    DOWNGRADE = "downgrade"
    FROM_VERSION_TOO_OLD = "from_version_too_old"
    PREVIOUSLY_FAILED = "previously_failed"  # same bundle already rolled back here
    # transport
    DOWNLOAD_FAILED = "download_failed"
    DOWNLOAD_CORRUPT = "download_corrupt"  # whole-bundle size/sha256 differs from the request
    DISK_FULL = "disk_full"  # no room for the bundle: the partial file is removed, the kiosk keeps its space
    # gating (deferred, try later)
    SESSION_ACTIVE = "session_active"
    OUTSIDE_MAINTENANCE_WINDOW = "outside_maintenance_window"
    # install and run
    INSTALL_FAILED = "install_failed"
    RESTART_FAILED = "restart_failed"
    UNHEALTHY = "unhealthy"  # the new release answered, but not healthy, until the deadline
    HEALTH_TIMEOUT = "health_timeout"  # the new release never answered before the deadline
    INTERRUPTED = "interrupted"  # power loss / agent killed; finished by resume()


class UpdateError(Exception):
    """An update step stopped for `reason`; `detail` is for people (no personal data)."""

    def __init__(self, reason: ReasonCode, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
