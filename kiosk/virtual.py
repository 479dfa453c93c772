"""The virtual kiosk: device simulators, the reference back office and the UI on one machine.

- devices: every kind on its simulator, built from `peripherals.config.simulated_devices()`
  (through `flows.deps.sim_deps`, which adds per-kind simulator options and unique
  names) and run under one `peripherals.supervisor.Supervisor` for the app's lifetime;
- back office: `python -m backoffice.cli --port N --db FILE` as a child process on a free
  loopback port, its SQLite file in the state directory (or an existing one, `--backoffice URL`);
- later also an MQTT broker and the fleet server: add an `Extra` (start/stop) to
  `VirtualKiosk.extras` — they are started before and stopped after the UI.

The devices and the HTTP client live on the UI's flow loop (kiosk.flowhost): they are
opened there once (`warm_up`) and every session's flow gets the same `FlowDeps`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any, Protocol

from flows import registry
from flows.catalogue import SERVICES
from flows.deps import FlowDeps, FlowSettings, SimAudio
from kiosk.ports import ServiceEntry

log = logging.getLogger(__name__)

ICONS = {s.name: s.icon for s in SERVICES} | {"demo": "idcard"}  # the catalogue's icons


class Extra(Protocol):
    """Another process of the virtual kiosk (MQTT broker, fleet server …)."""

    def start(self) -> Any: ...

    def stop(self) -> None: ...


class VirtualKiosk:
    def __init__(self, state_dir: Path, *, sim_options: dict[str, dict[str, Any]] | None = None,
                 flow_settings: FlowSettings | None = None, backoffice_url: str | None = None,
                 pay_after: float = 0.5, client_options: dict[str, Any] | None = None,
                 audio_realtime: bool = True):
        self.state_dir = Path(state_dir)
        self.sim_options = sim_options or {}
        self.flow_settings = flow_settings or FlowSettings()
        self.backoffice_url = backoffice_url
        self.pay_after = pay_after
        self.client_options = client_options  # HttpBackOffice options (timeout, retries); bench/soak.py shortens them
        self.audio_realtime = audio_realtime  # False: hearing tones take no wall time (soak)
        self.extras: list[Extra] = []
        self.staff_pin: Any = None  # FlowDeps.staff_pin: the app's staff PIN (kiosk.diagnostics.identity_check)
        self.deps: FlowDeps | None = None
        self._managed = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock: asyncio.Lock | None = None

    # -- processes (main thread) ---------------------------------------------------------
    def start(self) -> "VirtualKiosk":
        from kiosk.runflow import ManagedBackOffice

        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for extra in self.extras:
            extra.start()
        if self.backoffice_url is None:
            self._managed = ManagedBackOffice(self.state_dir / "backoffice.sqlite3", pay_after=self.pay_after).start()
            self.backoffice_url = self._managed.url
            log.info("virtual kiosk: reference back office at %s", self.backoffice_url)
        return self

    def stop(self) -> None:
        if self._managed is not None:
            self._managed.stop()
            self._managed = None
        for extra in reversed(self.extras):
            try:
                extra.stop()
            except Exception:
                log.warning("virtual kiosk: stopping %s failed", type(extra).__name__)

    # -- devices (flow loop) ---------------------------------------------------------------
    async def warm_up(self) -> FlowDeps:
        """Open the simulators and the back-office client once (idempotent)."""
        from flows.deps import sim_deps

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.deps is None:
                assert self.backoffice_url, "start() first"
                self._stack = contextlib.AsyncExitStack()
                self.deps = await self._stack.enter_async_context(
                    sim_deps(self.backoffice_url, sim_options=self.sim_options, settings=self.flow_settings,
                             client_options=self.client_options, real_face=True,  # the identity service compares
                             audio_realtime=self.audio_realtime))  # the "sound playing" screen stays while it plays
            self.deps.staff_pin = self.staff_pin
            return self.deps

    async def close_devices(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()
            self.deps = None
        self._lock = None  # the next app has its own flow loop

    @property
    def audio(self) -> SimAudio | None:
        return self.deps.audio if self.deps is not None and isinstance(self.deps.audio, SimAudio) else None

    def services(self, names: list[str] | None = None) -> list[ServiceEntry]:
        return [ServiceEntry(name=n, make_flow=lambda n=n: registry.create(n), deps_factory=self.warm_up,
                             icon=ICONS.get(n, "")) for n in (names or list(registry.FLOWS))]
