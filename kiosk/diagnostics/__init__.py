"""The maintenance diagnostics screen: staff PIN, device checks, calibration, logs, out of service.

    diag = Diagnostics(DiagnosticsSettings(state_dir=...), supervisor_source=lambda: supervisor)
    app = create_app(options, services, diagnostics=diag)   # KioskApp.build() calls diag.install(app)
    diag.serve("/run/kiosk/control.sock")                    # the agent's control socket (optional)

docs/diagnostics.md describes the screens, the PIN and lockout, the events and the files.
Kivy is imported only by the screen modules (`install`), so the PIN command stays light.
"""

from kiosk.diagnostics.service import Diagnostics, DiagnosticsSettings

__all__ = ["Diagnostics", "DiagnosticsSettings"]
