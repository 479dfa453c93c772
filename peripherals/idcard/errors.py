"""ID reader failures a citizen or staff member can meet, as typed errors."""

from peripherals.errors import DeviceFault, ProtocolError


class NoCard(DeviceFault):
    code = "no_card"
    plain = "no card on the reader"


class CardSelectFailed(DeviceFault):
    code = "card_select_failed"
    plain = "the card could not be selected; take it off and place it again"


class CardReadFailed(DeviceFault):
    code = "card_read_failed"
    plain = "the card could not be read; take it off and place it again"


class CardNotSupported(DeviceFault):
    code = "card_not_supported"
    plain = "this kind of card is not supported"


class SamFault(DeviceFault):
    code = "sam_fault"
    plain = "the card reader's security module reported a fault"


class SamChecksumError(ProtocolError):
    """The SAM says the frame we sent had a bad checksum or length (SW3 0x10/0x11)."""

    code = "sam_checksum_error"
    plain = "the card reader did not accept the command"
