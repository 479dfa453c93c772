"""`kiosk-devices`: read, simulate, check and print from the command line.

Other tools rely on these exact forms (issue #2):
  kiosk-devices read idcard --port URL [--reveal] [--format json|text]   (every field the card holds)
  kiosk-devices read bp --port URL --protocol accutorr|ieee11073
  kiosk-devices read height --port URL [--timeout S]   (one reading as JSON)
  kiosk-devices read cardreader --port URL [--wait S] [--reveal]   (card number and balance as JSON)
  kiosk-devices play-tone --side left|right [--output portaudio:NAME|wav:PATH] [--reference]
  kiosk-devices simulate KIND [--faults LIST]      (first line: the pty path)
  kiosk-devices status
  kiosk-devices print-test [--port URL]
  kiosk-devices demo                               (every simulator, each device read once)
  kiosk-devices face verify --reference IMG --probe IMG
  kiosk-devices face liveness --video FILE [--challenge blink,turn-left,...]
Failures exit non-zero with one line on stderr naming the cause in plain words.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Callable, Sequence

from peripherals.errors import DeviceError

EXIT_DEVICE_ERROR = 2
EXIT_USAGE = 64


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))
    sys.stdout.flush()


def describe_error(exc: DeviceError) -> str:
    """One line: the plain cause first, the technical detail after it when there is one."""
    detail = str(exc)
    return exc.plain if detail == exc.plain else f"{exc.plain} ({detail})"


# -- read ---------------------------------------------------------------------------------
def cmd_read_idcard(args: argparse.Namespace) -> int:
    from peripherals.idcard.driver import SamIdCardReader

    from peripherals.idcard.models import text_lines

    with SamIdCardReader(args.port, baudrate=args.baudrate, with_latest_address=True) as reader:
        card = reader.read_card(wait=args.wait)
    fields = card.public_dict(reveal=args.reveal)
    if args.format == "text":
        print("\n".join(text_lines(fields)))
        sys.stdout.flush()
    else:
        _print_json(fields)
    return 0


BP_PROTOCOLS = {
    "accutorr": ("peripherals.bp.driver", "AccutorrMonitor", 9600),
    "ieee11073": ("peripherals.bp.driver", "Ieee11073BridgeMonitor", 115200),
}


def cmd_read_bp(args: argparse.Namespace) -> int:
    import importlib

    module, cls, default_baud = BP_PROTOCOLS[args.protocol]
    monitor_cls = getattr(importlib.import_module(module), cls)
    with monitor_cls(args.port, baudrate=args.baudrate or default_baud) as monitor:
        reading = monitor.measure(timeout=args.timeout).in_mmhg()
    _print_json(
        {
            "systolic": reading.systolic,
            "diastolic": reading.diastolic,
            "mean": reading.mean,
            "pulse": reading.pulse,
            "unit": reading.unit.value,
        }
    )
    return 0


def cmd_read_height(args: argparse.Namespace) -> int:
    from peripherals.height.driver import TanitaHeightStation

    with TanitaHeightStation(args.port, baudrate=args.baudrate, verify_checksum=not args.no_checksum) as station:
        reading = station.measure(timeout=args.timeout)
    _print_json(reading.public_dict())
    return 0


def cmd_read_cardreader(args: argparse.Namespace) -> int:
    """The transit card on the reader: card number (last 4 unless --reveal) and balance; never writes."""
    from peripherals.cardreader.driver import Pn532PurseReader

    with Pn532PurseReader(args.port, baudrate=args.baudrate) as reader:
        card = reader.read_purse(wait=args.wait)
        info = reader.info()
    number = card.card_number if args.reveal else "*" * (len(card.card_number) - 4) + card.card_number[-4:]
    _print_json({"reader": info.model, "firmware": info.firmware, "card_number": number,
                 "balance_fen": card.balance_fen, "valid_until": card.valid_until})
    return 0


def cmd_play_tone(args: argparse.Namespace) -> int:
    """The speaker test: one tone on one side through the configured (or given) output."""
    from peripherals.audio import calibration
    from peripherals.audio.outputs import open_output
    from peripherals.audio.player import TonePlayer

    cal = calibration.load(args.calibration) if args.calibration else None
    player = TonePlayer(open_output(args.output), cal)
    try:
        player.open()
        if args.reference:
            played = player.play_reference(args.side, args.duration)
        else:
            played = player.play_tone(args.side, args.frequency, args.db_spl, args.duration)
    finally:
        player.close()
    _print_json({**played.model_dump(mode="json"), "output": player.output.describe()})
    return 0


# -- simulate -------------------------------------------------------------------------------
def cmd_simulate(args: argparse.Namespace) -> int:
    from peripherals.sim import registry
    from peripherals.sim.host import PtyHost

    if args.kind == "camera":
        print("the camera simulator is not a serial device: open simcam://camera?source=face", file=sys.stderr)
        return EXIT_USAGE
    options = dict(kv.split("=", 1) for kv in args.option)
    try:
        sim = registry.create(args.kind, args.faults, **options)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    host = PtyHost(sim, baudrate=None if args.no_pace else args.baudrate, link=args.link)
    print(host.port, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        host.stop()
    return 0


# -- status / print-test / demo --------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    from peripherals.base import DeviceState
    from peripherals.config import DeviceSettings
    from peripherals.supervisor import Supervisor

    sup = Supervisor(DeviceSettings().devices)
    sup.start(wait=args.wait)
    try:
        statuses = sup.statuses()
        rows = {k.value: s.model_dump(mode="json", exclude={"since"}) for k, s in statuses.items()}
        _print_json(rows)
        return 0 if all(s.state is DeviceState.READY for s in statuses.values()) else 1
    finally:
        sup.stop()


def cmd_print_test(args: argparse.Namespace) -> int:
    from peripherals.base import DeviceKind
    from peripherals.config import DeviceConfig, DeviceSettings
    from peripherals.registry import build_device

    cfg = DeviceSettings().devices[DeviceKind.PRINTER]
    if args.port:
        cfg = DeviceConfig(driver=cfg.driver, port=args.port, options=cfg.options)
    with build_device(cfg) as printer:
        printer.print_test_page()  # type: ignore[attr-defined]
        status = printer.printer_status()  # type: ignore[attr-defined]
    _print_json({"printed": True, "status": status.model_dump(mode="json")})
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from peripherals.demo import run_demo

    return run_demo(reveal=False)


# -- parser ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk-devices", description=__doc__.split("\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="log driver activity (never personal data)")
    sub = p.add_subparsers(dest="command", required=True)

    read = sub.add_parser("read", help="read one device once").add_subparsers(dest="kind", required=True)
    idc = read.add_parser("idcard", help="read the ID card on the reader")
    idc.add_argument("--port", required=True, help="pyserial URL: /dev/ttyUSB0, a pty, sim://idcard ...")
    idc.add_argument("--reveal", action="store_true",
                     help="print the whole ID and pass numbers (default: last 4 only)")
    idc.add_argument("--format", choices=["json", "text"], default="json",
                     help="json: one line (default); text: one labelled line per field")
    idc.add_argument("--wait", type=float, default=0.0, help="seconds to wait for a card to be placed")
    idc.add_argument("--baudrate", type=int, default=115200)
    idc.set_defaults(func=cmd_read_idcard)

    bp = read.add_parser("bp", help="take one blood-pressure reading")
    bp.add_argument("--port", required=True)
    bp.add_argument("--protocol", required=True, choices=sorted(BP_PROTOCOLS))
    bp.add_argument("--baudrate", type=int, default=None)
    bp.add_argument("--timeout", type=float, default=120.0)
    bp.set_defaults(func=cmd_read_bp)

    hs = read.add_parser("height", help="wait for one height (and weight) reading of the height-weight station")
    hs.add_argument("--port", required=True, help="pyserial URL: /dev/kiosk/height, a pty, sim://height ...")
    hs.add_argument("--baudrate", type=int, default=9600)
    hs.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for someone to be measured")
    hs.add_argument("--no-checksum", action="store_true", help="accept records whose CS field does not match")
    hs.set_defaults(func=cmd_read_height)

    cr = read.add_parser("cardreader", help="read the transit card on the contactless reader (balance; no write)")
    cr.add_argument("--port", required=True, help="pyserial URL: /dev/kiosk/cardreader, a pty, sim://cardreader ...")
    cr.add_argument("--baudrate", type=int, default=115200)
    cr.add_argument("--wait", type=float, default=5.0, help="seconds to wait for a card to be placed")
    cr.add_argument("--reveal", action="store_true", help="print the whole card number (default: last 4 only)")
    cr.set_defaults(func=cmd_read_cardreader)

    tone = sub.add_parser("play-tone", help="speaker test: play one hearing-test tone on the left or right")
    tone.add_argument("--output", default="portaudio:", help="portaudio:[NAME] (ALSA PCM), wav:PATH, memory:, none")
    tone.add_argument("--side", required=True, choices=("left", "right"))
    tone.add_argument("--frequency", type=float, default=512.0, help="Hz (default: the 512 Hz of the hearing test)")
    tone.add_argument("--db-spl", type=float, default=60.0, help="sound pressure at the listening spot")
    tone.add_argument("--duration", type=float, default=1.0)
    tone.add_argument("--reference", action="store_true", help="the calibration tone: 1 kHz at -20 dBFS")
    tone.add_argument("--calibration", default=None, help="the kiosk's audio-calibration.json")
    tone.set_defaults(func=cmd_play_tone)

    sim = sub.add_parser("simulate", help="run a device simulator on a new pseudo-terminal")
    sim.add_argument("kind", help="idcard, bp, bp11073, eye, height or printer")
    sim.add_argument("--faults", default=None, help="e.g. garbage,bad_checksum:2,device_error=0x80")
    sim.add_argument("--option", "-o", action="append", default=[], help="simulator option KEY=VALUE")
    sim.add_argument("--baudrate", type=int, default=115200, help="pace replies at this rate")
    sim.add_argument("--no-pace", action="store_true", help="reply as fast as possible")
    sim.add_argument("--link", default=None, help="also make a stable symlink at this path")
    sim.set_defaults(func=cmd_simulate)

    st = sub.add_parser("status", help="open every configured device and print its state")
    st.add_argument("--wait", type=float, default=10.0)
    st.set_defaults(func=cmd_status)

    pt = sub.add_parser("print-test", help="print a test page on the receipt printer")
    pt.add_argument("--port", default=None, help="usb://VID:PID or simusb://printer (default: configured)")
    pt.set_defaults(func=cmd_print_test)

    demo = sub.add_parser("demo", help="start every simulator and read each device once")
    demo.set_defaults(func=cmd_demo)

    from peripherals.face.cli import add_parser as add_face_parser

    add_face_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except DeviceError as exc:
        print(describe_error(exc), file=sys.stderr)
        return EXIT_DEVICE_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
