"""Transit-card top-up through a PN532 contactless reader on a serial link (HSU, 115200 8N1).

Every PN532 command is confirmed by an ACK frame, then answered (UM0701-02 §6.2.1); a lost
or corrupt answer to a *read* (InListPassiveTarget, SELECT, READ BINARY, GET BALANCE,
INITIALIZE FOR LOAD, GET TRANSACTION PROVE) is retried by sending it again. CREDIT FOR LOAD
is never re-sent: whatever goes wrong after it left (the card leaves the field, the answer
is lost or garbled, the port dies) is `CardWriteInterrupted`, because only GET TRANSACTION
PROVE can tell whether the card was credited. Only command names and status words are
logged, never card numbers or balances.
"""

from __future__ import annotations

import logging
import time

from peripherals.base import DeviceInfo, PurseReader, SelfTestResult
from peripherals.cardreader import pn532, purse
from peripherals.cardreader.errors import CardRefused, CardWriteInterrupted, NoPurseCard, NotATransitCard
from peripherals.cardreader.models import LoadInitInfo, PurseCard
from peripherals.cardreader.pn532 import Ack, BadFrame, ErrorFrame, Frame, InStatus, Nack, Pn532Command
from peripherals.errors import CodecError, DeviceError, DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.transport.serial_link import SerialLink

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.15  # s between InListPassiveTarget polls while waiting for a card
_READ_SLICE = 0.02


class Pn532PurseReader(PurseReader):
    def __init__(self, port: str, *, baudrate: int = 115200, timeout: float = 0.5, retries: int = 2,
                 terminal_id: str = "500100000001") -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.retries = retries
        self.terminal = bytes.fromhex(terminal_id)
        self._link = SerialLink(port, kind=self.kind.value, what="the reader", baudrate=baudrate, timeout=_READ_SLICE)
        self._parser = pn532.FrameParser()
        self._firmware = ""

    @property
    def terminal_id(self) -> str:
        return self.terminal.hex().upper()

    # -- Device ---------------------------------------------------------------------------
    def open(self) -> None:
        if self._link.is_open:
            return
        self._link.open()
        try:
            self._link.write(pn532.WAKEUP)
            self._firmware = self._read_firmware()
            self._command(Pn532Command.SAM_CONFIGURATION, b"\x01\x14\x01")  # normal mode, 1 s, IRQ
        except (DeviceTimeout, ProtocolError) as exc:
            self.close()
            raise DeviceNotPresent(f"no PN532 answered on {self.port}: {exc.code}", kind=self.kind.value) from None
        log.info("PN532 reader ready on %s", self.port)

    def close(self) -> None:
        self._link.close()
        self._parser.reset()

    def info(self) -> DeviceInfo:
        return DeviceInfo(kind=self.kind, driver=type(self).__name__, model="NXP PN532 (HSU)",
                          firmware=self._firmware, serial=self.terminal_id, port=self.port)

    def self_test(self) -> SelfTestResult:
        started = time.monotonic()
        try:
            self._firmware = self._read_firmware()
            self._command(Pn532Command.SAM_CONFIGURATION, b"\x01\x14\x01")
            return SelfTestResult(kind=self.kind, passed=True, checks={"firmware": True, "sam_configuration": True},
                                  detail=f"PN532 firmware {self._firmware}", duration_s=time.monotonic() - started)
        except DeviceError as exc:
            return SelfTestResult(kind=self.kind, passed=False, checks={"firmware": False}, detail=str(exc),
                                  duration_s=time.monotonic() - started)

    # -- PurseReader ----------------------------------------------------------------------
    def read_purse(self, wait: float = 0.0) -> PurseCard:
        self._activate(wait)
        info = self._public_info()
        data = self._apdu(purse.GET_BALANCE)
        if len(data) != 4:
            raise ProtocolError("GET BALANCE answers 4 bytes", kind=self.kind.value)
        return PurseCard(card_number=info.card_number, balance_fen=int.from_bytes(data, "big"),
                         valid_until=info.valid_until)

    def initialize_load(self, amount_fen: int, wait: float = 0.0) -> LoadInitInfo:
        self._activate(wait)
        info = self._public_info()
        x = purse.decode_load_init(self._apdu(purse.initialize_for_load(amount_fen, self.terminal)))
        return LoadInitInfo(card_number=info.card_number, terminal_id=self.terminal_id, balance_fen=x.balance, online_counter=x.counter,
                            key_version=x.key_version, random=x.random.hex().upper(), mac1=x.mac1.hex().upper())

    def credit_load(self, when: str, mac2: str) -> str:
        """CREDIT FOR LOAD right after `initialize_load` (same card, still in the field); the TAC."""
        cmd = purse.credit_for_load(purse.when_bytes(when), bytes.fromhex(mac2))
        try:
            status, rapdu = self._exchange_apdu(cmd, retry=False)
        except DeviceNotPresent:
            raise
        except DeviceError as exc:
            raise CardWriteInterrupted(f"no answer to CREDIT FOR LOAD ({exc.code})", kind=self.kind.value) from None
        if status != InStatus.OK:
            raise CardWriteInterrupted(f"the card left the field (status {status:02X})", kind=self.kind.value)
        data, sw = purse.split_sw(rapdu)
        if sw != purse.SW_OK or len(data) != 4:
            raise CardRefused(f"CREDIT FOR LOAD answered {sw:04X}", kind=self.kind.value, device_code=f"{sw:04X}")
        return data.hex().upper()

    def load_proof(self, online_counter: int, wait: float = 0.0) -> str | None:
        """The TAC of the load done with this counter, or None when the card never did it."""
        self._activate(wait)
        self._public_info()
        status, rapdu = self._exchange_apdu(purse.get_transaction_prove(online_counter), retry=True)
        if status != InStatus.OK:
            raise NoPurseCard("the card left the field", kind=self.kind.value)
        data, sw = purse.split_sw(rapdu)
        if sw == purse.SW_NO_TRANSACTION:
            return None
        if sw != purse.SW_OK or len(data) != 8:
            raise CardRefused(f"GET TRANSACTION PROVE answered {sw:04X}", kind=self.kind.value, device_code=f"{sw:04X}")
        return data[4:].hex().upper()

    # -- internals ------------------------------------------------------------------------
    def _read_firmware(self) -> str:
        data = self._command(Pn532Command.GET_FIRMWARE_VERSION)
        if len(data) != 4 or data[0] != 0x32:
            raise ProtocolError("not a PN532 firmware answer", kind=self.kind.value)
        return f"{data[1]}.{data[2]}"

    def _activate(self, wait: float) -> None:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            data = self._command(Pn532Command.IN_LIST_PASSIVE_TARGET, b"\x01\x00")  # one target, 106 kbps type A
            try:
                targets = pn532.decode_targets(data)
            except CodecError as exc:
                raise ProtocolError(str(exc), kind=self.kind.value) from None
            if targets:
                if not targets[0].iso14443_4:
                    raise NotATransitCard("the card is not ISO/IEC 14443-4", kind=self.kind.value)
                break
            if time.monotonic() >= deadline:
                raise NoPurseCard(kind=self.kind.value)
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
        status, rapdu = self._exchange_apdu(purse.select_aid(), retry=True)
        if status != InStatus.OK or purse.split_sw(rapdu)[1] != purse.SW_OK:
            raise NotATransitCard("no transit application on the card", kind=self.kind.value)

    def _public_info(self) -> purse.PublicInfo:
        try:
            return purse.decode_public_info(self._apdu(purse.READ_PUBLIC_INFO))
        except CodecError as exc:
            raise ProtocolError(str(exc), kind=self.kind.value) from None

    def _apdu(self, cmd: bytes) -> bytes:
        status, rapdu = self._exchange_apdu(cmd, retry=True)
        if status != InStatus.OK:
            raise NoPurseCard("the card left the field", kind=self.kind.value)
        try:
            data, sw = purse.split_sw(rapdu)
        except CodecError as exc:
            raise ProtocolError(str(exc), kind=self.kind.value) from None
        if sw != purse.SW_OK:
            raise CardRefused(f"the card answered {sw:04X}", kind=self.kind.value, device_code=f"{sw:04X}")
        return data

    def _exchange_apdu(self, cmd: bytes, *, retry: bool) -> tuple[int, bytes]:
        data = self._command(Pn532Command.IN_DATA_EXCHANGE, b"\x01" + cmd, retry=retry)
        if not data:
            raise ProtocolError("empty InDataExchange answer", kind=self.kind.value)
        return data[0], data[1:]

    def _command(self, code: Pn532Command, params: bytes = b"", *, retry: bool = True) -> bytes:
        last: DeviceError | None = None
        for attempt in range(self.retries + 1 if retry else 1):
            if attempt:
                log.debug("retrying %s after %s", code.name, last.code if last else "?")
            try:
                return self._exchange(code, params)
            except (DeviceTimeout, ProtocolError) as exc:
                last = exc
        assert last is not None
        raise last

    def _exchange(self, code: Pn532Command, params: bytes) -> bytes:
        self._link.flush_input()  # a lost port closes the link and is DeviceNotPresent
        self._parser.reset()
        self._link.write(pn532.command(code, params))
        return self._read_answer(code, time.monotonic() + self.timeout)

    def _read_answer(self, code: Pn532Command, deadline: float) -> bytes:
        acked = False
        while True:
            chunk = self._link.read()
            for item in self._parser.feed(chunk) if chunk else ():
                if isinstance(item, Ack):
                    acked = True
                elif isinstance(item, (Nack, BadFrame)):
                    raise ProtocolError(f"{code.name}: {getattr(item, 'reason', 'NACK')}", kind=self.kind.value)
                elif isinstance(item, ErrorFrame):
                    raise ProtocolError(f"{code.name}: application error frame", kind=self.kind.value)
                elif isinstance(item, Frame) and item.tfi == pn532.TFI_PN532 and item.command == code + 1:
                    return item.data[1:]
            if time.monotonic() >= deadline:
                raise DeviceTimeout(f"{code.name}: {'no answer' if acked else 'no ACK'}", kind=self.kind.value)
