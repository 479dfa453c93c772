"""ID reader failures a citizen or staff member can meet, as typed errors."""

from peripherals.errors import CodecError, DeviceError, DeviceFault, ProtocolError


class NoCard(DeviceFault):
    code = "no_card"
    plain = "no card on the reader"
    degrades_device = False  # the card's or the citizen's outcome, not the reader's


class CardSelectFailed(DeviceFault):
    code = "card_select_failed"
    plain = "the card could not be selected; take it off and place it again"
    degrades_device = False  # the card's or the citizen's outcome, not the reader's


class CardReadFailed(DeviceFault):
    code = "card_read_failed"
    plain = "the card could not be read; take it off and place it again"
    degrades_device = False  # the card's or the citizen's outcome, not the reader's


class CardNotSupported(DeviceFault):
    code = "card_not_supported"
    plain = "this kind of card is not supported"
    degrades_device = False  # the card's or the citizen's outcome, not the reader's


class SamFault(DeviceFault):
    code = "sam_fault"
    plain = "the card reader's security module reported a fault"


class SamChecksumError(ProtocolError):
    """The SAM says the frame we sent had a bad checksum or length (SW3 0x10/0x11)."""

    code = "sam_checksum_error"
    plain = "the card reader did not accept the command"


# -- added with the SAM codec/driver -------------------------------------------------------


class IdCardCodecError(CodecError):
    """Bytes that are not a valid SAM frame or card text block (the only error the codec raises)."""


class InvalidIdNumber(IdCardCodecError):
    """The ID number read from the card fails the GB 11643 MOD 11-2 check.

    The driver reports it as `CardReadFailed` (a misread; place the card again).
    """


class TextBlockTruncated(IdCardCodecError):
    """The text block is not the 256 bytes every layout has (a cut read, or not a text block)."""


class InvalidCardField(IdCardCodecError):
    """One field of the text block does not hold what its layout says (a date, a code, UCS-2 text).

    `field` names the field (e.g. "birth_date"); the message never carries its contents.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class UnsupportedCardLayout(IdCardCodecError):
    """The card-type flag at text bytes 248-249 is none we know; the driver reports `CardNotSupported`."""


class WltDecoderUnavailable(DeviceError):
    """No WLT photo decoder is installed: the vendor library is not shipped with the kiosk."""

    code = "wlt_decoder_unavailable"
    plain = "the ID photo cannot be shown on this kiosk"


class WltDecodeFailed(DeviceError):
    """The installed WLT decoder failed or did not return a BMP."""

    code = "wlt_decode_failed"
    plain = "the ID photo could not be decoded"


# SW3 meanings, from libsamv.h and HslCommunication StringResources SAMStatus* (see
# /work/shared/reference/peripherals.md §1). Plain English, never personal data.
SW3_MEANINGS: dict[int, str] = {
    0x90: "ok",
    0x9F: "card found",
    0x10: "checksum error",
    0x11: "length error",
    0x21: "command error",
    0x23: "unauthorized operation",
    0x24: "unrecognized error",
    0x31: "card failed to authenticate SAM",
    0x32: "SAM failed to authenticate card",
    0x33: "information verify error",
    0x40: "unknown card type",
    0x41: "card read failed",
    0x47: "random number failed",
    0x60: "SAM self-test failed",
    0x66: "SAM not authorized",
    0x80: "find card failed (no card)",
    0x81: "select card failed",
    0x91: "item has no content",
    0xFF: "communication fault",
}

_ERROR_BY_SW3: dict[int, type[DeviceError]] = {
    0x80: NoCard,
    0x81: CardSelectFailed,
    0x41: CardReadFailed,
    0x10: SamChecksumError,
    0x11: SamChecksumError,
    0x40: CardNotSupported,
    **{code: SamFault for code in (0x60, 0x66, 0x31, 0x32, 0x33, 0x47)},
}


def error_for_status(sw3: int) -> DeviceError:
    """The typed error for a non-success SW3 (anything unlisted is a plain DeviceFault)."""
    meaning = SW3_MEANINGS.get(sw3, "unknown status")
    cls = _ERROR_BY_SW3.get(sw3, DeviceFault)
    message = f"SAM status 0x{sw3:02X}: {meaning}"
    if issubclass(cls, DeviceFault):
        return cls(message, kind="idcard", device_code=sw3)
    err = cls(message, kind="idcard", detail=f"0x{sw3:02X}")
    err.device_code = sw3  # type: ignore[attr-defined]  # SamChecksumError is a ProtocolError
    return err
