"""The document camera (高拍仪): an OpenCV camera of its own device kind, so the supervisor,
the diagnostics and the fleet tell it apart from the face camera. Its photos go through
`peripherals.camera.page` (page detection, perspective correction, deskew, readable check)."""

from __future__ import annotations

from typing import ClassVar

from peripherals.base import DeviceKind
from peripherals.camera.driver import OpenCvCamera


class DocumentCamera(OpenCvCamera):
    kind: ClassVar[DeviceKind] = DeviceKind.DOCCAM
