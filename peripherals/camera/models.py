"""Camera results: the face quality check, its thresholds, and the licence photo.

Everything here is a pydantic model so flows, screens and tests share one shape. Frames
and photos are personal data: image fields are excluded from `repr` and serialisation,
so a model that reaches a log line carries no picture.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class FaceBox(BaseModel):
    """A face rectangle in pixels of the image it was found in (x, y = top-left)."""

    model_config = ConfigDict(frozen=True)

    x: int
    y: int
    w: int
    h: int

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def area(self) -> int:
        return self.w * self.h


class FaceIssue(StrEnum):
    """Stable reason codes; screens translate them, telemetry counts them."""

    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    FACE_TOO_LARGE = "face_too_large"
    NOT_CENTRED = "not_centred"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    BLURRED = "blurred"
    NOT_FACING = "not_facing"  # head turned or raised/lowered beyond the pose limits
    HEAD_TILTED = "head_tilted"  # head tilted sideways (roll)
    EYES_CLOSED = "eyes_closed"
    FACE_COVERED = "face_covered"  # a mask or a hand over nose and mouth


ISSUE_MESSAGES: dict[FaceIssue, str] = {
    FaceIssue.NO_FACE: "We cannot see a face. Please look at the camera.",
    FaceIssue.SEVERAL_FACES: "More than one face is in view. Only the applicant should be in front of the camera.",
    FaceIssue.FACE_TOO_SMALL: "Please come a little closer to the camera.",
    FaceIssue.FACE_TOO_LARGE: "Please move a little further from the camera.",
    FaceIssue.NOT_CENTRED: "Please move so that your face is in the middle of the frame.",
    FaceIssue.TOO_DARK: "Your face is too dark. Please face the light.",
    FaceIssue.TOO_BRIGHT: "Your face is too bright. Please move out of direct light.",
    FaceIssue.BLURRED: "The picture is blurred. Please hold still.",
    FaceIssue.NOT_FACING: "Please look straight at the camera.",
    FaceIssue.HEAD_TILTED: "Please hold your head straight.",
    FaceIssue.EYES_CLOSED: "Please open your eyes.",
    FaceIssue.FACE_COVERED: "Please take off your mask; nose and mouth must be visible.",
}


class FaceCheckConfig(BaseModel):
    """Thresholds of the face quality gate, for a kiosk camera at arm's length.

    Geometry assumes a webcam of about 60–70° horizontal field of view with the citizen
    0.3–0.8 m away: a 15 cm wide face then fills roughly 13–36 % of the frame width.
    Brightness and sharpness are measured on the face only (so a bright window behind
    the citizen does not hide a dark face). Sharpness is the variance of the Laplacian
    of the face resized to `sharpness_face_px` wide, contrast-stretched, so it does not
    depend on the camera resolution or on how dark the face is; a sharp face scores in
    the hundreds, a blurred one in single figures. Calibrate on the kiosk's own camera.
    See docs/devices/camera.md.
    """

    detect_width: int = Field(480, ge=160, description="frames are downscaled to this width before Haar detection")
    min_face_fraction: float = Field(0.12, gt=0, lt=1, description="face width / frame width below which it is too small")
    max_face_fraction: float = Field(0.45, gt=0, le=1, description="face width / frame width above which it is too large")
    target_x: float = Field(0.5, ge=0, le=1, description="where the face centre should be, as a fraction of width")
    target_y: float = Field(0.4, ge=0, le=1, description="... and of height (a little above the middle)")
    max_offset_x: float = Field(0.12, gt=0, description="allowed |face centre - target| as a fraction of width")
    max_offset_y: float = Field(0.15, gt=0, description="allowed |face centre - target| as a fraction of height")
    min_brightness: float = Field(70.0, ge=0, le=255, description="mean grey level of the face below which it is too dark")
    max_brightness: float = Field(210.0, ge=0, le=255, description="mean grey level of the face above which it is too bright")
    min_sharpness: float = Field(40.0, ge=0, description="variance of Laplacian of the normalised face below which it is blurred")
    sharpness_face_px: int = Field(128, ge=32, description="face width the sharpness is measured at")
    min_neighbors: int = Field(6, ge=3, description="Haar hits a face needs (real faces get dozens, false alarms a few)")
    min_relative_strength: float = Field(
        0.35, ge=0, le=1, description="a face needs this share of the strongest face's hits to count (drops false alarms)"
    )


class FaceCheck(BaseModel):
    """Result of the quality gate on one frame. `reasons` is empty exactly when `passed`."""

    passed: bool
    reasons: list[FaceIssue] = Field(default_factory=list)
    face: FaceBox | None = None  # the one face judged, in frame pixels
    faces_found: int = 0
    brightness: float | None = None  # mean grey level 0–255 of the face (of the frame when no single face)
    sharpness: float | None = None  # variance of Laplacian of the normalised face
    frame_width: int = 0
    frame_height: int = 0
    message: str = ""  # plain words for the citizen: the first reason's advice, or "ok"


class LicencePhoto(BaseModel):
    """A driving-licence photo: 260 × 378 px on white (see peripherals.camera.photo)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    image: np.ndarray = Field(repr=False, exclude=True)  # BGR uint8, height × width × 3
    data: bytes = Field(repr=False)  # the encoded file
    format: Literal["jpeg", "png"]
    media_type: str
    width: int
    height: int
    head_box: FaceBox  # estimated head (crown to chin, ear to ear) in photo pixels
    face_box: FaceBox  # the detected face mapped into photo pixels
    background_fraction: float  # share of pixels replaced by white
    jpeg_quality: int | None = None

    @property
    def size_bytes(self) -> int:
        return len(self.data)
