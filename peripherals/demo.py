"""`kiosk-devices demo`: every device simulator started, each device used once through its
real driver and the supervisor — the whole device layer on one screen.

The ID reader, blood-pressure monitor and eye tester simulators run on real
pseudo-terminals (paced at their baud rates), the printer behind the simulated pyusb
backend, the camera on a photograph that ships with scikit-image. Personal data stays
masked: the ID number shows its last four characters only.
"""

from __future__ import annotations

import asyncio
import sys
import time

from peripherals.base import DeviceKind, DeviceState
from peripherals.config import DeviceConfig
from peripherals.sim import registry
from peripherals.sim.host import PtyHost
from peripherals.supervisor import Supervisor


def _line(label: str, text: str) -> None:
    print(f"  {label:<14} {text}", flush=True)


def start_serial_simulators() -> dict[str, PtyHost]:
    return {
        "idcard": PtyHost(registry.create("idcard"), baudrate=115200),
        "bp": PtyHost(registry.create("bp", duration="1.5"), baudrate=9600),
        "eye": PtyHost(registry.create("eye", acuity_left="5.0", acuity_right="5.1"), baudrate=115200),
    }


def device_map(hosts: dict[str, PtyHost]) -> dict[DeviceKind, DeviceConfig]:
    return {
        DeviceKind.IDCARD: DeviceConfig(driver="idcard.sam", port=hosts["idcard"].port),
        DeviceKind.BP: DeviceConfig(driver="bp.accutorr", port=hosts["bp"].port, options={"baudrate": 9600}),
        DeviceKind.EYE: DeviceConfig(driver="eye.kvt", port=hosts["eye"].port),
        DeviceKind.PRINTER: DeviceConfig(driver="printer.escpos_usb", port="simusb://printer?name=demo-printer"),
        DeviceKind.CAMERA: DeviceConfig(driver="camera.opencv", port="simcam://demo-camera?source=face"),
    }


async def exercise(sup: Supervisor) -> list[str]:
    """Use each device once; return the kinds that failed."""
    from peripherals.camera.face import check_face
    from peripherals.camera.photo import make_licence_photo
    from peripherals.eye.models import Eye, Optotype, Orientation
    from peripherals.printer.models import Receipt, ReceiptLine

    failed: list[str] = []

    async def step(kind: DeviceKind, label: str, operation):
        try:
            return await sup[kind].run(operation)
        except Exception as exc:  # the demo reports every failure and goes on
            code = getattr(exc, "code", type(exc).__name__)
            _line(label, f"FAILED: {code}: {exc}")
            failed.append(kind.value)
            return None

    card = await step(DeviceKind.IDCARD, "ID card", lambda d: d.read_card(wait=2))
    if card is not None:
        _line("ID card", f"{card.card_type.value}, ID {card.masked_id()}, valid to {card.valid_to}")

    def measure(d):
        return d.measure(on_progress=lambda p: print(f"  {'':<14} ... {p.phase.value}", flush=True), timeout=30)

    reading = await step(DeviceKind.BP, "blood pressure", measure)
    if reading is not None:
        _line("blood pressure", f"{reading.systolic:.0f}/{reading.diastolic:.0f} {reading.unit.value}, pulse {reading.pulse}")

    def eye_once(d):
        d.show(Optotype(level=5.0, orientation=Orientation.UP, eye=Eye.RIGHT))
        answer = d.wait_answer(timeout=5)
        d.blank()
        return answer

    answer = await step(DeviceKind.EYE, "eye tester", eye_once)
    if answer is not None:
        _line("eye tester", f"showed 5.0 E pointing up to the right eye; pad answered {answer.orientation}")

    frame = await step(DeviceKind.CAMERA, "camera", lambda d: d.read_frame())
    if frame is not None:
        check = check_face(frame)
        _line("camera", f"{frame.shape[1]}x{frame.shape[0]} frame; face gate {'passed' if check.passed else check.reasons}")
        if check.passed:
            photo = make_licence_photo(frame, face=check.face)
            _line("licence photo", f"{photo.width}x{photo.height} {photo.format}, {len(photo.data)} bytes")

    receipt = Receipt(
        title="重庆市公安局交通管理局",
        lines=[ReceiptLine(text="业务：驾驶证期满换证"), ReceiptLine(text="工本费：¥10.00", bold=True)],
        qr="https://example.invalid/track/YT0000000000",
        footer="结果将邮寄到家 / Mailed to your home",
    )
    if await step(DeviceKind.PRINTER, "printer", lambda d: d.print_receipt(receipt)) is None and "printer" not in failed:
        printed = registry.named("demo-printer").printed[-1]
        qr = printed.qr_codes[0].payload if printed.qr_codes else None
        _line("printer", f"printed {len(printed.lines)} lines, QR {qr!r}, cut={printed.cut}")
        for line in printed.lines:
            _line("", f"| {line.text}")
    return failed


def run_demo(reveal: bool = False) -> int:
    print("Starting device simulators ...", flush=True)
    hosts = start_serial_simulators()
    for kind, host in hosts.items():
        _line(kind, f"simulator on {host.port}")
    sup = Supervisor(device_map(hosts))
    try:
        started = time.monotonic()
        sup.start(wait=20)
        print(f"Supervisor: devices opened in {time.monotonic() - started:.2f} s", flush=True)
        for kind, status in sup.statuses().items():
            info = status.info
            what = f"{info.model} {info.serial}".strip() if info else status.message
            _line(kind.value, f"{status.state.value:<7} {what}")
        print("Using each device once ...", flush=True)
        failed = asyncio.run(exercise(sup))
        not_ready = [k.value for k, s in sup.statuses().items() if s.state is not DeviceState.READY]
    finally:
        sup.stop()
        for host in hosts.values():
            host.stop()
    if failed or not_ready:
        print(f"Devices with problems: {sorted(set(failed + not_ready))}", file=sys.stderr)
        return 1
    print("All devices answered.", flush=True)
    return 0
