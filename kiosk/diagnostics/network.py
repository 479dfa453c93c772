"""Network and fleet-link status, as far as the app itself can know it.

The app does not talk MQTT: the agent does, and it does not tell the app whether it is
connected. So the screen shows only what is known here and says "unknown" otherwise:

- a default route (IPv4 or IPv6) from /proc/net/route and /proc/net/ipv6_route;
- when the agent last called the control socket (it polls every few seconds while it runs);
- the broker: "reachable" / "unreachable" when its address is configured for the
  diagnostics (`DiagnosticsSettings.broker_address`, a TCP connect with a short timeout —
  reachable, not "the agent is connected"), else unknown.
"""

from __future__ import annotations

import socket
import time
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel


class Reach(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class NetworkStatus(BaseModel):
    default_route: Reach = Reach.UNKNOWN
    interface: str = ""
    agent_last_contact_s: float | None = None  # seconds ago; None: never since the app started
    broker: Reach = Reach.UNKNOWN
    broker_address: str = ""


def default_route(proc: Path = Path("/proc")) -> tuple[Reach, str]:
    """Is there a default route, and through which interface? (Linux /proc; unknown elsewhere)."""
    try:
        for line in (proc / "net" / "route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "00000000" and int(fields[3], 16) & 0x1:  # RTF_UP
                return Reach.YES, fields[0]
    except (OSError, ValueError, IndexError):
        return Reach.UNKNOWN, ""
    try:
        for line in (proc / "net" / "ipv6_route").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 10 and fields[0] == "0" * 32 and fields[1] == "00" and fields[9] != "lo":
                return Reach.YES, fields[9]
    except OSError:
        pass
    return Reach.NO, ""


def tcp_reachable(address: str, timeout: float = 2.0) -> Reach:
    """`host:port` accepts a TCP connection within `timeout` s (blocking: not on the UI thread)."""
    if not address:
        return Reach.UNKNOWN
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return Reach.YES
    except (OSError, ValueError):
        return Reach.NO


def network_status(broker_address: str = "", last_agent_contact: float | None = None,
                   proc: Path = Path("/proc")) -> NetworkStatus:
    """Everything above (blocking for up to the TCP timeout)."""
    route, iface = default_route(proc)
    ago = round(time.time() - last_agent_contact, 1) if last_agent_contact is not None else None
    return NetworkStatus(default_route=route, interface=iface, agent_last_contact_s=ago,
                         broker=tcp_reachable(broker_address), broker_address=broker_address)
