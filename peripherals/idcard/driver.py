"""Resident ID card reader over a GA 467 SAM serial link (SAM_V, 115200 8N1).

One command, one reply: every transaction flushes stale input, sends the request and
waits for one checked reply frame until its deadline. A lost, garbled or corrupted reply
(`ProtocolError`, including the SAM's own "your frame had a bad checksum/length",
or `DeviceTimeout`) is retried by re-sending the same command, up to `retries` times;
a status the SAM reports on purpose (no card, select failed ...) is raised at once as its
typed error (`peripherals.idcard.errors.error_for_status`). OS/pyserial failures become
`DeviceNotPresent`. Only command names and status codes are logged, never card data.

Card read sequence (raymond1860/idr `libid2_read_id2_info`): find (20 01, expects 9F),
select (20 02), read (30 01, or 30 10 with fingerprint). While no card is present the
find is repeated every `POLL_INTERVAL` seconds until `wait` has passed.
"""

from __future__ import annotations

import logging
import time

from peripherals.base import DeviceInfo, IdCardReader, SelfTestResult
from peripherals.errors import DeviceError, DeviceFault, DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.idcard import codec
from peripherals.idcard.codec import BadFrame, Command, Frame, FrameParser, Request, Response, Sw3
from peripherals.idcard.errors import (
    CardNotSupported,
    CardReadFailed,
    IdCardCodecError,
    InvalidCardField,
    InvalidIdNumber,
    NoCard,
    UnsupportedCardLayout,
    error_for_status,
)
from peripherals.idcard.models import IdCard
from peripherals.transport.serial_link import SerialLink

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.2  # s between find-card attempts while waiting for a card
_READ_SLICE = 0.02  # s, pyserial read timeout; our own deadlines govern
_MAX_REPLY = 7 + 0x090A  # bytes of the largest reply (read with fingerprint)

_EXPECTED: dict[Command, tuple[int, ...]] = {
    Command.FIND_CARD: (Sw3.CARD_FOUND, Sw3.OK),  # some SAMs answer 90 instead of 9F
    Command.READ_LATEST_ADDRESS: (Sw3.OK, Sw3.NO_CONTENT),  # 91: the card has no appended address
}


class SamIdCardReader(IdCardReader):
    """Driver for a SAM_V ID card reader on any pyserial URL (`/dev/ttyUSB0`, `sim://idcard`, ...)."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        timeout: float = 1.0,
        retries: int = 2,
        with_fingerprint: bool = False,
        with_latest_address: bool = False,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.retries = retries
        self.with_fingerprint = with_fingerprint
        self.with_latest_address = with_latest_address  # also read the appended address (30 03) of a card
        self._link = SerialLink(port, kind=self.kind.value, what="the reader", baudrate=baudrate, timeout=_READ_SLICE)
        self._parser = FrameParser()
        self._sam_id = ""

    # -- Device ---------------------------------------------------------------------------
    def open(self) -> None:
        if self._link.is_open:
            return
        self._link.open()
        try:
            self._transact(Command.RESET)
            self._transact(Command.SAM_STATUS)
            self._sam_id = self._read_sam_id()
        except (DeviceTimeout, ProtocolError) as exc:
            self.close()
            raise DeviceNotPresent(f"no SAM answered on {self.port}: {exc.code}", kind=self.kind.value) from None
        except DeviceError:
            self.close()
            raise
        log.info("SAM reader ready on %s", self.port)

    def close(self) -> None:
        self._link.close()
        self._parser.reset()

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            kind=self.kind, driver=type(self).__name__, model="GA 467 SAM", serial=self._sam_id, port=self.port
        )

    def self_test(self) -> SelfTestResult:
        """Reset the SAM, ask its self-check status and read its ID (no card needed)."""
        started = time.monotonic()
        checks: dict[str, bool] = {}
        problems: list[str] = []
        steps = (
            ("reset", lambda: self._transact(Command.RESET)),
            ("sam_status", lambda: self._transact(Command.SAM_STATUS)),
            ("sam_id", self._read_sam_id),
        )
        for name, step in steps:
            try:
                result = step()
                if name == "sam_id":
                    self._sam_id = result  # type: ignore[assignment]
                checks[name] = True
            except DeviceError as exc:
                checks[name] = False
                problems.append(f"{name}: {exc}")
                if isinstance(exc, DeviceNotPresent):
                    break
        return SelfTestResult(
            kind=self.kind,
            passed=bool(checks) and all(checks.values()) and len(checks) == len(steps),
            checks=checks,
            detail="; ".join(problems) or "SAM answered reset, status and ID",
            duration_s=time.monotonic() - started,
        )

    # -- IdCardReader ---------------------------------------------------------------------
    def read_card(self, wait: float = 0.0) -> IdCard:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                self._transact(Command.FIND_CARD)
                break
            except NoCard:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                time.sleep(min(POLL_INTERVAL, remaining))
        self._transact(Command.SELECT_CARD)
        command = Command.READ_WITH_FINGERPRINT if self.with_fingerprint else Command.READ_BASE_INFO
        response = self._transact(command, extra_time=_MAX_REPLY * 10 / self.baudrate)
        card = self._card_from(response)
        if self.with_latest_address and "latest_address" in type(card).model_fields:
            try:
                card = card.model_copy(update={"latest_address": self.read_latest_address()})
            except DeviceFault as exc:  # a SAM without the command, or the card taken away: the read stands
                log.info("no appended address read (%s)", exc.code)
        return card

    def read_latest_address(self) -> str:
        """The selected card's appended address (追加住址, written after a move; "" when there is none)."""
        response = self._transact(Command.READ_LATEST_ADDRESS)
        if response.sw3 == Sw3.NO_CONTENT:
            return ""
        try:
            return codec.decode_latest_address(response.data)
        except IdCardCodecError as exc:
            raise ProtocolError(f"appended address could not be decoded: {exc}", kind=self.kind.value) from None

    def read_sam_id(self) -> str:
        """The SAM's ID (`xx.xx-…`), also shown as `info().serial`."""
        self._sam_id = self._read_sam_id()
        return self._sam_id

    # -- internals ------------------------------------------------------------------------
    def _read_sam_id(self) -> str:
        response = self._transact(Command.READ_SAM_ID)
        try:
            return str(codec.decode_sam_id(response.data))
        except IdCardCodecError as exc:
            raise ProtocolError(f"bad SAM ID reply: {exc}", kind=self.kind.value) from None

    def _card_from(self, response: Response) -> IdCard:
        try:
            return codec.decode_card(codec.decode_card_data(response.data))
        except InvalidIdNumber:
            raise CardReadFailed("the ID number read fails its check character", kind=self.kind.value) from None
        except InvalidCardField as exc:  # the frame's XOR was right: the text is wrong at the source, read again
            raise CardReadFailed(f"a field of the card's text is not valid ({exc.field})", kind=self.kind.value) from None
        except UnsupportedCardLayout:
            raise CardNotSupported("unknown card type flag in the text block", kind=self.kind.value) from None
        except IdCardCodecError as exc:
            raise ProtocolError(f"card data could not be decoded: {exc}", kind=self.kind.value) from None

    def _transact(self, command: Command, extra_time: float = 0.0) -> Response:
        """Send `command`, return its reply; retries lost/corrupt replies, raises typed errors."""
        expected = _EXPECTED.get(command, (Sw3.OK,))
        last: DeviceError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                log.debug("retrying %s after %s", command.name, last.code if last else "?")
            try:
                response = self._exchange(Request.of(command), self.timeout + extra_time)
            except (DeviceTimeout, ProtocolError) as exc:
                last = exc
                continue
            if response.sw3 in expected:
                return response
            error = error_for_status(response.sw3)
            log.info("%s answered SW3 0x%02X", command.name, response.sw3)
            if isinstance(error, ProtocolError):  # the SAM says our frame arrived damaged
                last = error
                continue
            raise error
        assert last is not None
        raise last

    def _exchange(self, request: Request, timeout: float) -> Response:
        self._link.flush_input()  # a lost port closes the link and is DeviceNotPresent
        self._parser.reset()
        self._link.write(codec.encode_request(request))
        return self._read_response(time.monotonic() + timeout)

    def _read_response(self, deadline: float) -> Response:
        parser = self._parser
        while True:
            chunk = self._link.read()
            for item in parser.feed(chunk) if chunk else ():
                if isinstance(item, BadFrame):
                    raise ProtocolError(f"bad reply frame: {item.reason}", kind=self.kind.value)
                assert isinstance(item, Frame)
                try:
                    return codec.decode_response(item)
                except IdCardCodecError as exc:
                    raise ProtocolError(str(exc), kind=self.kind.value) from None
            if time.monotonic() >= deadline:
                if parser.discarded:
                    raise ProtocolError("reply was not a SAM frame", kind=self.kind.value)
                if parser.pending:
                    raise DeviceTimeout("reply frame incomplete", kind=self.kind.value)
                raise DeviceTimeout("no reply from the SAM", kind=self.kind.value)
