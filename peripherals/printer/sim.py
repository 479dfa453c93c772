"""A thermal receipt printer, seen from the wire: ESC/POS in, DLE EOT status bytes out.

Everything the driver sends runs through `EscPosStreamDecoder`; each cut closes a
`PrintedDocument` appended to `printed`, so tests assert what came out of the printer.
The simulator answers DLE EOT n (n = 1..4) with the status bytes of its state
(`escpos_decode.encode_status`).

Options (strings, from the port URL): `paper=ok|near_end|out`, `cover=closed|open`,
`online=1|0`, `roll_lines=N` (paper counter: near end at 10 %, out at 0).
Faults: the generic ones apply to status answers (`garbage`, `bad_checksum`, `silence`,
`unplug`; `truncate` of a one-byte answer leaves nothing, i.e. no answer). `device_error=cutter`,
`device_error=unrecoverable` and `device_error=recoverable` are taken at the next
DLE EOT 1 and then reported by every status answer: the first two until `clear_error()`,
the last one for `recover_s` seconds (an auto-recoverable error such as head overheat).
`unplug_after(n)` pulls the cable after n more received bytes, i.e. in the middle of a job.
"""

from __future__ import annotations

from peripherals.printer.errors import EscPosCodecError
from peripherals.printer.escpos_decode import EscPosStreamDecoder, encode_status
from peripherals.printer.models import PaperLevel, PrintedDocument, PrinterStatus, StatusRequest
from peripherals.sim.base import FaultKind, FaultQueue, Simulator

DEVICE_ERRORS = ("cutter", "unrecoverable", "recoverable")


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.lower() not in ("0", "false", "no", "off")


class EscPosPrinterSimulator(Simulator):
    kind = "printer"

    def __init__(self, faults: FaultQueue | str | None = None, **options: str) -> None:
        super().__init__(faults, **options)
        self.paper = PaperLevel(options.get("paper", "ok"))
        self.cover_open = options.get("cover", "closed") == "open"
        self.online = _flag(options.get("online"), True)
        self.roll_lines: int | None = int(options["roll_lines"]) if "roll_lines" in options else None
        self._roll_capacity = self.roll_lines
        self.recover_s = float(options.get("recover_s", "0.2"))
        self.cutter_error = False
        self.unrecoverable_error = False
        self.auto_recoverable_error = False
        self.decoder = EscPosStreamDecoder()
        self.printed: list[PrintedDocument] = []  # one per cut; cut=False for jobs cut short
        self.status_requests: list[int] = []
        self.decode_errors: list[str] = []
        self._unplug_after: int | None = None

    # -- scripted behaviour (tests and the virtual kiosk call these) --------------------
    @property
    def status(self) -> PrinterStatus:
        return PrinterStatus(
            online=self.online,
            paper=self.paper,
            cover_open=self.cover_open,
            cutter_error=self.cutter_error,
            unrecoverable_error=self.unrecoverable_error,
        )

    def set_paper(self, level: PaperLevel | str) -> None:
        self.paper = PaperLevel(level)
        if self.paper is PaperLevel.OK and self._roll_capacity is not None:
            self.roll_lines = self._roll_capacity  # a new roll

    def open_cover(self) -> None:
        self.cover_open = True

    def close_cover(self) -> None:
        self.cover_open = False

    def set_online(self, online: bool) -> None:
        self.online = online

    def clear_error(self) -> None:
        self.cutter_error = self.unrecoverable_error = self.auto_recoverable_error = False

    def unplug_after(self, nbytes: int) -> None:
        """Pull the cable once `nbytes` more bytes have arrived (the rest of that write is lost)."""
        self._unplug_after = nbytes

    @property
    def pending(self) -> PrintedDocument:
        """What has been printed since the last cut."""
        return self.decoder.current

    # -- wire side ----------------------------------------------------------------------
    def on_attach(self) -> None:
        """Power-on (first attach, or replugged): a job cut short stays on the paper, uncut."""
        partial = self.decoder.abort()
        if partial is not None:
            self.printed.append(partial)

    def receive(self, data: bytes) -> None:
        if self._unplug_after is not None:
            if len(data) >= self._unplug_after:
                data, self._unplug_after = data[: self._unplug_after], None
                self._decode(data)
                assert self.host is not None
                self.host.unplug()
                return
            self._unplug_after -= len(data)
        self._decode(data)

    def _decode(self, data: bytes) -> None:
        try:
            events = self.decoder.feed(data)
        except EscPosCodecError as exc:
            self.decode_errors.append(str(exc))
            events = self.decoder.take_events()
        for event in events:
            if isinstance(event, StatusRequest):
                self._answer_status(event.n)
            else:
                self._finish(event)

    def _answer_status(self, n: int) -> None:
        self.status_requests.append(n)
        if n == 1:
            self._take_device_error()
        value = encode_status(n, self.status, auto_recoverable=self.auto_recoverable_error)
        self.reply(bytes([value]))

    def reply(self, frame: bytes) -> None:
        """Generic faults; a truncated one-byte status answer is no answer at all."""
        if len(frame) == 1 and self.faults.take(FaultKind.TRUNCATE) is not None:
            return
        super().reply(frame)

    def _take_device_error(self) -> None:
        fault = self.device_error()
        if fault is None:
            return
        arg = (fault.arg or "unrecoverable").lower()
        if arg == "cutter":
            self.cutter_error = True
        elif arg == "recoverable":
            self.auto_recoverable_error = True
            assert self.host is not None
            self.host.call_later(self.recover_s, self._recover)
        else:
            self.unrecoverable_error = True

    def _recover(self) -> None:
        self.auto_recoverable_error = False

    def _finish(self, doc: PrintedDocument) -> None:
        self.printed.append(doc)
        if self.roll_lines is not None and self._roll_capacity:
            self.roll_lines = max(0, self.roll_lines - len(doc.lines))
            if self.roll_lines == 0:
                self.paper = PaperLevel.OUT
            elif self.roll_lines <= self._roll_capacity // 10:
                self.paper = PaperLevel.NEAR_END
