"""Signed software updates: bundles (build, sign, verify) and the kiosk-side installer.

See docs/updates.md. The agent uses `Updater` (apply / resume), the operator CLI mounts
`fleet.updates.cli.register`.
"""

from fleet.bundle.archive import VerifiedBundle, build_bundle, inspect_bundle, sign_bundle, verify_bundle
from fleet.updates.gating import MaintenanceWindow
from fleet.updates.health import (
    CallableProbe,
    CommandProbe,
    ControlStatusProbe,
    HealthProbe,
    HealthReport,
    StatusFileProbe,
    control_session_active,
)
from fleet.updates.installer import Updater, UpdaterConfig
from fleet.bundle.manifest import Manifest
from fleet.updates.models import (
    ReasonCode,
    UpdateError,
    UpdateOutcome,
    UpdateProgress,
    UpdateRequest,
    reported_fields,
)

__all__ = [
    "CallableProbe",
    "CommandProbe",
    "ControlStatusProbe",
    "HealthProbe",
    "HealthReport",
    "MaintenanceWindow",
    "Manifest",
    "ReasonCode",
    "StatusFileProbe",
    "UpdateError",
    "UpdateOutcome",
    "UpdateProgress",
    "UpdateRequest",
    "Updater",
    "UpdaterConfig",
    "VerifiedBundle",
    "build_bundle",
    "control_session_active",
    "inspect_bundle",
    "reported_fields",
    "sign_bundle",
    "verify_bundle",
]
