"""Face failures a caller can act on; each says plainly what went wrong."""

from __future__ import annotations

from peripherals.errors import DeviceError


class FaceEngineUnavailable(DeviceError):
    """The face models are not installed (dlib-bin / face-recognition-models missing)."""

    code = "face_engine_unavailable"
    plain = "the face-comparison software is not installed"
    degrades_device = True


class NoFaceFound(DeviceError):
    """An image in which no face can be found (or which cannot be read as an image)."""

    code = "no_face"
    plain = "no face was found in the picture"


class PortraitUnavailable(DeviceError):
    """The card holder's reference portrait cannot be had (no decoder, no service)."""

    code = "portrait_unavailable"
    plain = "the ID card photo cannot be read on this kiosk"


class ImageUnreadable(NoFaceFound):
    """A file that is missing or not a picture."""

    code = "image_unreadable"
    plain = "the picture cannot be read"
