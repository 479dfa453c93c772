"""Contactless card reader failures a citizen or staff member can meet, as typed errors."""

from peripherals.errors import DeviceFault


class NoPurseCard(DeviceFault):
    code = "no_transit_card"
    plain = "no transit card on the reader"
    degrades_device = False  # the citizen's outcome, not the reader's


class NotATransitCard(DeviceFault):
    code = "not_transit_card"
    plain = "this card has no transit purse"
    degrades_device = False


class CardWriteInterrupted(DeviceFault):
    """The card left the field during CREDIT FOR LOAD: whether it was credited is unknown
    until GET TRANSACTION PROVE answers."""

    code = "card_write_interrupted"
    plain = "the card was taken away while it was being written"
    degrades_device = False


class CardRefused(DeviceFault):
    """The card answered with a status word other than 9000 (device_code = SW1SW2)."""

    code = "card_refused"
    plain = "the card refused the operation"
    degrades_device = False
