"""One screen class per view type (not per step), plus home/attract and out-of-service.

`SCREENS` maps a `flows.views.ViewKind` to the screen that renders it; the app shows a
view by calling `screen.render(view)` on the UI thread.
"""

from kiosk.kivy_setup import prepare_environment as _prepare

_prepare()  # before the first `import kivy` (no argv parsing, no ~/.kivy)
