"""Reusable kiosk widgets: big buttons, step progress, numeric keypad, pinyin keyboard, region picker.

Every touchable widget carries a `kiosk_id` (e.g. ``nav.cancel``, ``option.submit``,
``keypad.7``): the autopilot and the tests find widgets by it, and the touch-target
audit walks every widget that has one.
"""

from kiosk.kivy_setup import prepare_environment as _prepare

_prepare()  # before the first `import kivy` (no argv parsing, no ~/.kivy)
