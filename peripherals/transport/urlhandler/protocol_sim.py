"""pyserial URL handler `sim://KIND?name=N&faults=LIST&pace=1&OPTION=VALUE...`.

Opens an in-process simulator of device KIND on one end of a socket pair and behaves as
a serial port on the other end, so a driver runs unchanged on `sim://idcard` or on
`/dev/ttyUSB0`. `name` shares one simulator between opens (and with the test that holds
it); `faults` queues faults (see `peripherals.sim.base.FaultQueue.parse`); `pace=1`
delivers replies at the port's baud rate; other query options go to the simulator.
An unplugged named simulator refuses to open, as a missing /dev node would.
"""

from __future__ import annotations

import urllib.parse

from serial import SerialException
from serial.urlhandler import protocol_socket

from peripherals.sim import registry
from peripherals.sim.host import SocketPairHost


class Serial(protocol_socket.Serial):
    _host: SocketPairHost | None = None

    def open(self) -> None:
        self.logger = None
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:
            raise SerialException("Port is already open.")
        kind, name, faults, pace, options = self.from_url(self.portstr)
        try:
            sim = registry.named(name, kind, faults, **options) if name else registry.create(kind, faults, **options)
        except (ValueError, ImportError) as exc:
            raise SerialException(f"could not open port {self.portstr}: {exc}") from None
        if not sim.plugged:
            raise SerialException(f"could not open port {self.portstr}: device unplugged")
        self.simulator = sim
        self._host = SocketPairHost(sim, baudrate=self._baudrate if pace else None)
        self._socket = self._host.client
        self._socket.setblocking(False)
        self._reconfigure_port()
        self.is_open = True
        self.reset_input_buffer()

    def close(self) -> None:
        # not protocol_socket's close(): it sleeps 0.3 s "for quick reconnects" to a server
        if self.is_open:
            if self._socket is not None:
                try:
                    self._socket.close()
                except OSError:
                    pass
                self._socket = None
            self.is_open = False
        host, self._host = self._host, None
        if host is not None:
            host.stop()

    def from_url(self, url: str):  # type: ignore[override]
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "sim":
            raise SerialException(f"expected a string in the form sim://KIND[?options], not {url!r}")
        kind = parts.netloc or parts.path.strip("/")
        query = dict(urllib.parse.parse_qsl(parts.query))
        name = query.pop("name", None)
        faults = query.pop("faults", None)
        pace = query.pop("pace", "0") not in ("0", "false", "no")
        query.pop("logging", None)
        return kind, name, faults, pace, query

    def _reconfigure_port(self) -> None:
        """Baud rate and framing mean nothing on a socket pair; nothing to do."""

    def _update_dtr_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True
