"""Optotypes shown by the vision tester and answers from its response pad."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

# GB 11533 5-point record: rows 4.0 .. 5.3 in steps of 0.1 (L = 5 - lg(MAR in arcmin)).
LEVELS: tuple[float, ...] = tuple(round(4.0 + i / 10, 1) for i in range(14))


class Eye(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"


class Orientation(StrEnum):
    """Direction the open side of the tumbling E points to."""

    UP = "up"
    DOWN = "down"
    LEFT = "left"
    RIGHT = "right"


class Optotype(BaseModel):
    level: float = Field(description="GB 11533 5-point value, 4.0..5.3")
    orientation: Orientation
    eye: Eye

    @field_validator("level")
    @classmethod
    def _on_scale(cls, v: float) -> float:
        v = round(v, 1)
        if v not in LEVELS:
            raise ValueError(f"level {v} is not a GB 11533 row (4.0..5.3)")
        return v


class PadAnswer(BaseModel):
    orientation: Orientation | None  # None: the citizen pressed "cannot see"
    device_time_ms: int  # the tester's own clock when the key was pressed
    latency_ms: int | None = None  # from the optotype being shown to the key press


# --- KVT/1 wire messages (docs/protocols/eye-tester.md) -------------------------------
# Our own protocol: vendors of kiosk vision testers publish none (see
# /work/shared/reference/peripherals.md §3), so the byte values below are defined here.

from enum import IntEnum  # noqa: E402
from typing import ClassVar, Union  # noqa: E402

from peripherals.device_model import DeviceInfo, DeviceKind  # noqa: E402

U32_MAX = 0xFFFF_FFFF
MAX_TEXT = 16  # model / serial / firmware strings in INFO (3 × 17 + 5 = 56 ≤ 64-byte payload)


class FrameType(IntEnum):
    """The type byte. Letters for host commands and tester replies read well in a hex dump."""

    HELLO = 0x48  # 'H' host -> tester
    SHOW = 0x53  # 'S' host -> tester
    BLANK = 0x42  # 'B' host -> tester
    SELF_TEST = 0x54  # 'T' host -> tester
    INFO = 0x49  # 'I' tester -> host, positive reply to HELLO
    SELF_TEST_REPORT = 0x52  # 'R' tester -> host, positive reply to SELF_TEST
    PAD = 0x50  # 'P' tester -> host, unsolicited key press
    ACK = 0x06  # both ways
    NAK = 0x15  # both ways


class NakCode(IntEnum):
    BAD_CRC = 0x01  # the receiver's CRC check failed: resend the same frame
    BAD_LENGTH = 0x02  # payload length wrong for the type
    UNKNOWN_COMMAND = 0x03
    BAD_PARAMETER = 0x04  # level / orientation / eye out of range
    OCCLUDER_JAMMED = 0x10
    LAMP_FAILURE = 0x11
    DISPLAY_FAILURE = 0x12


class Hello(BaseModel):
    frame_type: ClassVar[FrameType] = FrameType.HELLO
    version: int = Field(default=1, ge=0, le=255)


class Show(BaseModel):
    frame_type: ClassVar[FrameType] = FrameType.SHOW
    optotype: Optotype


class Blank(BaseModel):
    frame_type: ClassVar[FrameType] = FrameType.BLANK


class SelfTest(BaseModel):
    frame_type: ClassVar[FrameType] = FrameType.SELF_TEST


class Ack(BaseModel):
    """Positive reply. The ACK of SHOW carries the tester's clock when the E appeared."""

    frame_type: ClassVar[FrameType] = FrameType.ACK
    shown_ms: int | None = Field(default=None, ge=0, le=U32_MAX)


class Nak(BaseModel):
    frame_type: ClassVar[FrameType] = FrameType.NAK
    code: int = Field(ge=0, le=255)  # a NakCode, but unknown codes must still decode


class Info(BaseModel):
    frame_type: ClassVar[FrameType] = FrameType.INFO
    version: int = Field(default=1, ge=0, le=255)
    distance_mm: int = Field(ge=0, le=0xFFFF, description="optical test distance the optics simulate")
    pixel_pitch_um: int = Field(ge=0, le=0xFFFF, description="display pixel pitch, micrometres")
    model: str = Field(default="", max_length=MAX_TEXT, pattern=r"^[\x20-\x7e]*$")
    serial: str = Field(default="", max_length=MAX_TEXT, pattern=r"^[\x20-\x7e]*$")
    firmware: str = Field(default="", max_length=MAX_TEXT, pattern=r"^[\x20-\x7e]*$")


class SelfTestReport(BaseModel):
    frame_type: ClassVar[FrameType] = FrameType.SELF_TEST_REPORT
    lamp: bool
    display: bool
    occluder: bool
    pad: bool

    @property
    def passed(self) -> bool:
        return self.lamp and self.display and self.occluder and self.pad


class PadEvent(BaseModel):
    frame_type: ClassVar[FrameType] = FrameType.PAD
    key: Orientation | None  # None: "cannot see"
    device_time_ms: int = Field(ge=0, le=U32_MAX)


Message = Union[Hello, Show, Blank, SelfTest, Ack, Nak, Info, SelfTestReport, PadEvent]


class EyeTesterInfo(DeviceInfo):
    """DeviceInfo plus the optics the flows need to trust a result."""

    kind: DeviceKind = DeviceKind.EYE
    optical_distance_mm: int = 0
    pixel_pitch_mm: float = 0.0
