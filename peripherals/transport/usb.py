"""Opening USB devices: real ones through libusb, simulated ones through `SimUsbBackend`.

Port URLs (the only form drivers see):

- `usb://VVVV:PPPP[?serial=S&in_ep=0x82&out_ep=0x01]`: a real device (hex vendor and
  product id) through pyusb's libusb1 backend;
- `simusb://KIND?name=N&faults=LIST&OPTION=VALUE...`: the simulator of device KIND on
  a simulated pyusb backend. `name` shares one simulator between opens and with the
  test holding it (`peripherals.sim.registry.named`); other options go to the simulator
  (for the printer: `paper=ok|near_end|out`, `cover=closed|open`, `online=0|1`).

No protocol here: this module finds a device, and turns pyusb/libusb failures into
`DeviceNotPresent` / `DeviceTimeout` (`usb_errors()`), so no USBError leaves a driver.
"""

from __future__ import annotations

import errno
import urllib.parse
from contextlib import contextmanager
from typing import Iterator

import usb.backend
import usb.core
from pydantic import BaseModel

from peripherals.errors import DeviceError, DeviceNotPresent, DeviceTimeout

SCHEMES = ("usb", "simusb")
_GONE_ERRNOS = {errno.ENODEV, errno.ENOENT, errno.ENXIO, errno.EIO, errno.ESHUTDOWN, errno.EPIPE}


class UsbUrl(BaseModel):
    """A parsed USB port URL."""

    scheme: str
    vid: int | None = None
    pid: int | None = None
    serial: str | None = None
    in_ep: int = 0x82
    out_ep: int = 0x01
    sim_kind: str | None = None
    sim_name: str | None = None
    faults: str | None = None
    options: dict[str, str] = {}

    @property
    def simulated(self) -> bool:
        return self.scheme == "simusb"


def is_usb_url(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in SCHEMES


def parse_usb_url(url: str) -> UsbUrl:
    """Parse `usb://VVVV:PPPP?...` or `simusb://KIND?...`; DeviceNotPresent if malformed."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    try:
        in_ep = int(query.pop("in_ep", "0x82"), 0)
        out_ep = int(query.pop("out_ep", "0x01"), 0)
        if parts.scheme == "usb":
            vid_s, _, pid_s = parts.netloc.partition(":")
            return UsbUrl(
                scheme="usb", vid=int(vid_s, 16), pid=int(pid_s, 16),
                serial=query.pop("serial", None), in_ep=in_ep, out_ep=out_ep,
            )  # fmt: skip
        if parts.scheme == "simusb":
            kind = parts.netloc or parts.path.strip("/")
            if not kind:
                raise ValueError("no device kind")
            return UsbUrl(
                scheme="simusb", sim_kind=kind, sim_name=query.pop("name", None),
                faults=query.pop("faults", None), serial=query.pop("serial", None),
                in_ep=in_ep, out_ep=out_ep, options=query,
            )  # fmt: skip
    except ValueError as exc:
        raise DeviceNotPresent(f"bad USB port URL {url!r}: {exc}") from None
    raise DeviceNotPresent(f"not a USB port URL: {url!r} (expected usb://VVVV:PPPP or simusb://KIND)")


def backend_for(parsed: UsbUrl, *, kind: str | None = None) -> usb.backend.IBackend:
    """The pyusb backend serving `parsed`: libusb1 for real devices, a `SimUsbBackend`
    hosting the (named) simulator for `simusb://`."""
    if parsed.simulated:
        from peripherals.sim import registry
        from peripherals.sim.usb_backend import SimUsbBackend, UsbIdentity

        assert parsed.sim_kind is not None
        try:
            if parsed.sim_name:
                sim = registry.named(parsed.sim_name, parsed.sim_kind, parsed.faults, **parsed.options)
            else:
                sim = registry.create(parsed.sim_kind, parsed.faults, **parsed.options)
        except (ValueError, ImportError, TypeError) as exc:
            raise DeviceNotPresent(f"no simulator for {parsed.sim_kind!r}: {exc}", kind=kind) from None
        identity = UsbIdentity(serial=parsed.serial) if parsed.serial else None
        return SimUsbBackend.for_simulator(sim, identity)
    import usb.backend.libusb1 as libusb1

    backend = libusb1.get_backend()
    if backend is None:
        raise DeviceNotPresent("libusb 1.0 is not available", kind=kind)
    return backend


def find_args(parsed: UsbUrl, backend: usb.backend.IBackend) -> dict[str, object]:
    """Keyword arguments for `usb.core.find` (and python-escpos's `usb_args`)."""
    args: dict[str, object] = {"backend": backend}
    if parsed.vid is not None:
        args["idVendor"] = parsed.vid
    if parsed.pid is not None:
        args["idProduct"] = parsed.pid
    if parsed.serial and not parsed.simulated:
        args["serial_number"] = parsed.serial
    return args


def resolve(url: str, *, kind: str | None = None) -> tuple[usb.core.Device, usb.backend.IBackend]:
    """The pyusb Device for `url` and the backend it is on; DeviceNotPresent if absent."""
    parsed = parse_usb_url(url)
    backend = backend_for(parsed, kind=kind)
    with usb_errors(kind=kind):
        device = usb.core.find(**find_args(parsed, backend))
    if device is None:
        raise DeviceNotPresent(f"no USB device at {url}", kind=kind)
    return device, backend


def map_usb_error(exc: BaseException, *, kind: str | None = None) -> DeviceError:
    """The typed error for a pyusb/OS failure: timeout, or the device being gone."""
    if isinstance(exc, usb.core.USBTimeoutError) or getattr(exc, "errno", None) == errno.ETIMEDOUT:
        return DeviceTimeout("USB transfer timed out", kind=kind)
    code = getattr(exc, "errno", None)
    reason = errno.errorcode.get(code, "unknown") if isinstance(code, int) else "unknown"
    return DeviceNotPresent(f"USB device unavailable ({reason})", kind=kind, detail=str(exc))


@contextmanager
def usb_errors(*, kind: str | None = None) -> Iterator[None]:
    """Run a block of pyusb calls; USBError / OSError / NoBackendError come out typed."""
    try:
        yield
    except DeviceError:
        raise
    except (usb.core.USBError, OSError) as exc:  # USBTimeoutError is a USBError
        raise map_usb_error(exc, kind=kind) from None
    except usb.core.NoBackendError as exc:
        raise DeviceNotPresent(f"no USB backend: {exc}", kind=kind) from None
