"""Vision tester failures.

Tester-reported faults (a NAK whose code names a broken part) are `EyeTesterFault`
subclasses carrying the wire code in `device_code`; NAKs that say our own frame was
wrong are `EyeTesterNak` (a `ProtocolError`); bytes the codec cannot read raise
`KvtCodecError`, which the driver turns into `ProtocolError`.
"""

from peripherals.errors import CodecError, DeviceFault, ProtocolError


class EyeTesterFault(DeviceFault):
    code = "eye_tester_fault"
    plain = "the vision tester reported a fault"


class OccluderJammed(EyeTesterFault):
    code = "eye_occluder_jammed"
    plain = "the vision tester cannot cover one eye"


class LampFailure(EyeTesterFault):
    code = "eye_lamp_failure"
    plain = "the vision tester's light has failed"


class DisplayFailure(EyeTesterFault):
    code = "eye_display_failure"
    plain = "the vision tester's display has failed"


class EyeTesterNak(ProtocolError):
    """The tester refused our frame (bad CRC after retries, bad length, unknown command, bad parameter)."""

    code = "eye_tester_nak"
    plain = "the vision tester did not accept a command"

    def __init__(self, message: str | None = None, *, nak_code: int, **kw):
        self.nak_code = nak_code
        super().__init__(message, **kw)


class KvtCodecError(CodecError):
    """Bytes that are not a valid KVT/1 frame or message."""


class FramingError(KvtCodecError):
    """No start/end byte where the frame layout needs one, or a length out of range."""


class CrcMismatch(KvtCodecError):
    """The CRC-16 of the frame does not match its contents."""


class UnknownType(KvtCodecError):
    """A frame type byte this protocol version does not define."""


class BadPayloadLength(KvtCodecError):
    """The payload length does not fit the frame type."""


class BadValue(KvtCodecError):
    """A payload field out of its range (level, orientation, eye, key, text)."""
