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
`unplug_after(n)` pulls the cable after n more received bytes, i.e. in the middle of a job;
`fault_after(n, "cover_open" | "paper_out")` opens the cover / ends the paper there instead
(the printer stops, drops the rest of the job, and the half-printed form stays uncut).

Real speed (`speed_mm_s=N`, with `line_mm`, `cut_s`): each finished document takes the time
its paper travel needs (text lines × line pitch, QR and barcode heights at 8 dots/mm, the
feed before the cut, at least one form length when forms are loaded) plus the cut, and the
USB write that carried it returns only then, as a printer whose buffer is full holds the host.
`busy_s` adds it all up (the device time of a benchmark).

Pre-numbered forms (`forms=CODE:FIRST:COUNT`, `form_mm`, or `load_forms()`): a roll of
invoice forms (卷式发票) with their numbers pre-printed; every document — a job cut short
too — lands on the next form and carries its number in `PrintedDocument.form`
("CODE:NUMBER"), so a test checks what was printed against the paper it was printed on.
When the last form is used the paper is out.
"""

from __future__ import annotations

import time

from peripherals.printer.errors import EscPosCodecError
from peripherals.printer.escpos_decode import EscPosStreamDecoder, encode_status
from peripherals.printer.models import PaperLevel, PrintedDocument, PrinterStatus, StatusRequest
from peripherals.sim.base import FaultKind, FaultQueue, Simulator

DEVICE_ERRORS = ("cutter", "unrecoverable", "recoverable")


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.lower() not in ("0", "false", "no", "off")


PRINTED_KEEP = 100  # documents kept in `printed` (at most twice that)


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
        self._fault_after: tuple[int, str] | None = None
        self._dropping = False  # cover opened / paper ended mid-job: the rest of the job is lost
        self.speed_mm_s = float(options["speed_mm_s"]) if "speed_mm_s" in options else None
        self.line_mm = float(options.get("line_mm", "3.75"))  # 24-dot font + 6-dot spacing at 8 dots/mm
        self.cut_s = float(options.get("cut_s", "0.25"))
        self.form_mm = float(options.get("form_mm", "177.8"))  # 76 x 177.8 mm roll invoice
        self.busy_s = 0.0
        self.forms: list[str] = []  # pre-printed numbers still on the roll, next first
        if "forms" in options:
            code, first, count = options["forms"].split(":")
            self.load_forms(code, int(first), int(count), width=len(first))

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
        self._dropping = self._dropping and (self.cover_open or self.paper is PaperLevel.OUT)
        if self.paper is PaperLevel.OK and self._roll_capacity is not None:
            self.roll_lines = self._roll_capacity  # a new roll

    def open_cover(self) -> None:
        self.cover_open = True

    def close_cover(self) -> None:
        self.cover_open = False
        self._dropping = self.paper is PaperLevel.OUT

    def set_online(self, online: bool) -> None:
        self.online = online

    def clear_error(self) -> None:
        self.cutter_error = self.unrecoverable_error = self.auto_recoverable_error = False

    def unplug_after(self, nbytes: int) -> None:
        """Pull the cable once `nbytes` more bytes have arrived (the rest of that write is lost)."""
        self._unplug_after = nbytes

    def fault_after(self, nbytes: int, kind: str) -> None:
        """After `nbytes` more bytes: 'unplug', 'cover_open' or 'paper_out' in the middle of the job."""
        if kind == "unplug":
            self.unplug_after(nbytes)
        elif kind in ("cover_open", "paper_out"):
            self._fault_after = (nbytes, kind)
        else:
            raise ValueError(f"unknown mid-job fault {kind!r}")

    def load_forms(self, code: str, first: int, count: int, *, width: int = 8) -> None:
        """A new roll of pre-numbered forms (replaces what was left)."""
        self.forms = [f"{code}:{n:0{width}d}" for n in range(first, first + count)]
        self.paper = PaperLevel.OK if self.forms else PaperLevel.OUT
        self._dropping = self.cover_open

    @property
    def forms_left(self) -> int:
        return len(self.forms)

    @property
    def pending(self) -> PrintedDocument:
        """What has been printed since the last cut."""
        return self.decoder.current

    # -- wire side ----------------------------------------------------------------------
    def on_attach(self) -> None:
        """Power-on (first attach, or replugged): a job cut short stays on the paper, uncut."""
        partial = self.decoder.abort()
        if partial is not None:
            self._land(partial)
            self.printed.append(partial)

    def receive(self, data: bytes) -> None:
        if self._fault_after is not None:
            nbytes, kind = self._fault_after
            if len(data) >= nbytes:
                self._fault_after = None
                self._decode(data[:nbytes])
                self._stop_mid_job(kind)
                data = data[nbytes:]
            else:
                self._fault_after = (nbytes - len(data), kind)
        if self._dropping:
            self._decode_status_only(data)
            return
        if self._unplug_after is not None:
            if len(data) >= self._unplug_after:
                data, self._unplug_after = data[: self._unplug_after], None
                self._decode(data)
                self.on_attach()  # power gone: what was printed stays on the paper, uncut
                assert self.host is not None
                self.host.unplug()
                return
            self._unplug_after -= len(data)
        self._decode(data)

    def _stop_mid_job(self, kind: str) -> None:
        if kind == "cover_open":
            self.cover_open = True
        else:
            self.paper = PaperLevel.OUT
        self._dropping = True
        partial = self.decoder.abort()
        if partial is not None:
            self._land(partial)
            self.printed.append(partial)

    def _decode_status_only(self, data: bytes) -> None:
        """While stopped the printer prints nothing (until staff close the cover or load paper)
        but still answers DLE EOT n."""
        for i in range(len(data) - 2):
            if data[i] == 0x10 and data[i + 1] == 0x04 and 1 <= data[i + 2] <= 4:
                self._answer_status(data[i + 2])

    def _land(self, doc: PrintedDocument) -> None:
        """The form under the head takes the document; the roll moves on."""
        if self.forms:
            doc.form = self.forms.pop(0)
            if not self.forms:
                self.paper = PaperLevel.OUT

    def _travel_s(self, doc: PrintedDocument) -> float:
        if not self.speed_mm_s:
            return 0.0
        mm = len(doc.lines) * self.line_mm + 6 * self.line_mm  # ESC d 6 before the cut
        mm += sum(q.size * 33 / 8 for q in doc.qr_codes)  # a version-4 QR is 33 modules
        mm += sum(b.height / 8 + 2 * self.line_mm for b in doc.barcodes)  # bars + HRI line
        if doc.form is not None:
            mm = max(mm, self.form_mm)  # feed to the next form's start
        return mm / self.speed_mm_s + self.cut_s

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
        self._land(doc)
        travel = self._travel_s(doc)
        if travel:
            time.sleep(travel)  # the host's write is held while the paper moves
            self.busy_s += travel
        self.printed.append(doc)
        if len(self.printed) > 2 * PRINTED_KEEP:  # weeks of receipts in a soak: keep the last ones
            del self.printed[:-PRINTED_KEEP]
        if self.roll_lines is not None and self._roll_capacity:
            self.roll_lines = max(0, self.roll_lines - len(doc.lines))
            if self.roll_lines == 0:
                self.paper = PaperLevel.OUT
            elif self.roll_lines <= self._roll_capacity // 10:
                self.paper = PaperLevel.NEAR_END
