"""The kiosk app's local control socket (server side).

The fleet agent runs as its own process so that a hung UI is still reported and
restarted (DESIGN.md); it reaches the app only through this unix socket. One JSON
request per line in, one JSON response per line out; the messages are in
`fleet.protocol.control`. The app implements `ControlHandler` (the Kivy app will);
`BasicControlHandler` implements it from real parts — a `peripherals.supervisor.Supervisor`,
a log ring buffer, an event buffer, the fleet config file — for the headless kiosk and tests.

Privacy: a screenshot is refused while a citizen session is on screen (checked here,
whatever the handler does), log lines are redacted on the way out, and error details
are redacted before they leave the app.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from pydantic import ValidationError

from fleet.protocol.control import (
    CONTROL_REQUEST,
    MAX_LINE_BYTES,
    AppEvent,
    AppEvents,
    AppStatus,
    ControlError,
    ControlResponse,
    DeviceSelfTest,
    EventsRequest,
    OutOfServiceRequest,
    RecentLogs,
    RecentLogsRequest,
    ReloadConfigRequest,
    ReloadResult,
    ScreenshotRequest,
    Screenshot,
    SelfTestRequest,
    SelfTestResults,
    StatusRequest,
    read_config_file,
)
from fleet.protocol.messages import DeviceHealth, DeviceKind, DeviceState, EventKind, FlowCounters
from fleet.protocol.privacy import redact

log = logging.getLogger(__name__)


class ControlRefused(Exception):
    """The request is understood but not allowed now (e.g. a citizen is on screen)."""


@runtime_checkable
class ControlHandler(Protocol):
    """What the app does for each control request. Raise `ControlRefused` to refuse,
    `NotImplementedError` for an operation the app does not offer."""

    async def status(self) -> AppStatus: ...

    async def self_test(self, device: DeviceKind | None) -> SelfTestResults: ...

    async def screenshot(self) -> Screenshot: ...

    async def set_out_of_service(self, enabled: bool, reason: str) -> AppStatus: ...

    async def reload_config(self) -> ReloadResult: ...

    async def recent_logs(self, lines: int) -> RecentLogs: ...

    async def events(self, instance: str, after: int, limit: int) -> AppEvents:
        """Events with seq > after; forget those <= after when `instance` is the current one."""


class ControlServer:
    """Serves a `ControlHandler` on a unix socket (mode 0660: the agent's group)."""

    def __init__(self, path: Path | str, handler: ControlHandler, *, mode: int = 0o660) -> None:
        self.path = Path(path)
        self.handler = handler
        self.mode = mode
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket from a crashed run
        self._server = await asyncio.start_unix_server(self._client, path=str(self.path), limit=MAX_LINE_BYTES)
        os.chmod(self.path, self.mode)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def __aenter__(self) -> "ControlServer":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    response = ControlResponse(ok=False, error=ControlError.BAD_REQUEST, detail="request too long")
                    writer.write(response.model_dump_json().encode() + b"\n")
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                response = await self.handle_line(line)
                writer.write(response.model_dump_json().encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def handle_line(self, line: bytes) -> ControlResponse:
        """One request line → its response (never raises)."""
        try:
            request = CONTROL_REQUEST.validate_json(line)
        except ValidationError as exc:
            return ControlResponse(ok=False, error=ControlError.BAD_REQUEST, detail=_summary(exc))
        try:
            result = await self._dispatch(request)
        except ControlRefused as exc:
            return ControlResponse(rid=request.rid, ok=False, error=ControlError.REFUSED, detail=redact(str(exc)))
        except NotImplementedError:
            return ControlResponse(rid=request.rid, ok=False, error=ControlError.UNSUPPORTED, detail=request.op)
        except ValidationError as exc:
            return ControlResponse(rid=request.rid, ok=False, error=ControlError.FAILED, detail=_summary(exc))
        except Exception as exc:  # the app must answer, whatever broke
            log.exception("control request %s failed", request.op)
            return ControlResponse(
                rid=request.rid, ok=False, error=ControlError.FAILED, detail=redact(f"{type(exc).__name__}: {exc}")
            )
        return ControlResponse(rid=request.rid, ok=True, result=result.model_dump(mode="json"))

    async def _dispatch(self, request):
        handler = self.handler
        match request:
            case StatusRequest():
                return await handler.status()
            case SelfTestRequest(device=device):
                return await handler.self_test(device)
            case ScreenshotRequest():
                if (await handler.status()).session_active:
                    raise ControlRefused("a citizen session is on screen")
                return await handler.screenshot()
            case OutOfServiceRequest(enabled=enabled, reason=reason):
                return await handler.set_out_of_service(enabled, reason)
            case ReloadConfigRequest():
                return await handler.reload_config()
            case RecentLogsRequest(lines=lines):
                logs = await handler.recent_logs(lines)
                return RecentLogs(lines=[redact(line) for line in logs.lines[-lines:]])
            case EventsRequest(instance=instance, after=after, limit=limit):
                return await handler.events(instance, after, limit)
        raise NotImplementedError(request.op)


def _summary(exc: ValidationError) -> str:
    """Where and what, without echoing the (possibly personal) input."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors(include_input=False)]
    return redact("; ".join(parts))[:500]


# ---------------------------------------------------------------- building blocks


class RecentLogBuffer(logging.Handler):
    """The last N log lines, redacted as they are captured (for `recent_logs`)."""

    def __init__(self, capacity: int = 2000, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(redact(self.format(record)))
        except Exception:  # logging must never take the app down
            self.handleError(record)

    def lines(self, count: int) -> list[str]:
        return list(self._lines)[-count:]


class EventBuffer:
    """App events waiting for the agent; thread-safe (device listeners run on workers).

    The agent fetches ``after`` the last seq it stored in its outbox, which also acks
    everything up to there. ``instance`` changes with every app start.
    """

    def __init__(self, capacity: int = 10000) -> None:
        self.instance = uuid.uuid4().hex
        self._events: collections.deque[AppEvent] = collections.deque(maxlen=capacity)
        self._seq = 0
        self._lock = threading.Lock()
        self.acked = 0

    def record(self, kind: EventKind, **fields) -> AppEvent:
        with self._lock:
            self._seq += 1
            event = AppEvent(seq=self._seq, kind=kind, **fields)
            self._events.append(event)
            return event

    def fetch(self, instance: str, after: int, limit: int) -> AppEvents:
        with self._lock:
            if instance != self.instance:
                after = 0  # the cursor belongs to an earlier run of the app
            self.acked = max(self.acked, after)
            while self._events and self._events[0].seq <= after:
                self._events.popleft()
            return AppEvents(instance=self.instance, events=list(self._events)[:limit])

    def pending(self) -> int:
        with self._lock:
            return len(self._events)


def device_health(status) -> DeviceHealth:
    """A `peripherals.base.DeviceStatus` as the fleet sees it (no port, no local errors)."""
    info = status.info
    return DeviceHealth(
        kind=DeviceKind(str(status.kind)),
        state=DeviceState(str(status.state)),
        reason=status.reason,
        message=redact(status.message),
        consumables=dict(status.consumables),
        model=info.model if info else "",
        serial=info.serial if info else "",
        firmware=info.firmware if info else "",
        since=status.since,
    )


def placeholder_screenshot(text: str = "kiosk") -> Screenshot:
    """A PNG of plain text, for a headless app that has no screen to grab."""
    import cv2
    import numpy as np

    image = np.full((120, 320, 3), 255, np.uint8)
    cv2.putText(image, text[:24], (10, 70), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2)
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return Screenshot(png=png.tobytes(), width=320, height=120)


class BasicControlHandler:
    """`ControlHandler` over a device `Supervisor`, for the headless kiosk and tests.

    Keeps out-of-service and session flags, flow counters, the fleet config version
    (read from `config_path` on reload), and feeds device state changes to the event
    buffer. The Kivy app replaces `screenshot_source` with a real screen grab.
    """

    def __init__(
        self,
        supervisor=None,
        *,
        app_version: str = "",
        config_path: Path | str | None = None,
        log_buffer: RecentLogBuffer | None = None,
        events: EventBuffer | None = None,
        screenshot_source: Callable[[], Screenshot] | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.app_version = app_version
        self.config_path = Path(config_path) if config_path else None
        self.log_buffer = log_buffer or RecentLogBuffer()
        self.event_buffer = events or EventBuffer()
        self.screenshot_source = screenshot_source or (lambda: placeholder_screenshot(self._screen_text()))
        self.started = time.monotonic()
        self.session_active = False
        self.out_of_service = False
        self.out_of_service_reason = ""
        self.settings = None
        self.config_version = 0
        self.flows: dict[str, FlowCounters] = {}
        self.outbox_stats: Callable[[], Any] | None = None  # the app's outbox (counts only) for the health
        self.config_listeners: list[Callable[[Any], None]] = []  # called with the KioskSettings applied
        self.calls: collections.Counter[str] = collections.Counter()  # for diagnostics/tests
        self._last_device_states: dict[str, tuple[str, str]] = {}  # kind -> (state, reason) last reported
        if supervisor is not None:
            supervisor.subscribe(self._device_changed)

    # -- app-side hooks -----------------------------------------------------------------
    def begin_session(self, flow: str) -> None:
        self.session_active = True
        self.flows.setdefault(flow, FlowCounters()).started += 1

    def end_session(self, flow: str, completed: bool, *, step: str = "", step_no: int | None = None,
                    reason: str = "", duration_s: float | None = None) -> None:
        """Count the session and queue its flow_* event: the step it ended on, the abort
        reason and its duration (the fleet's service statistics); no personal data."""
        self.session_active = False
        counters = self.flows.setdefault(flow, FlowCounters())
        if completed:
            counters.completed += 1
        else:
            counters.aborted += 1
        kind = EventKind.FLOW_COMPLETED if completed else EventKind.FLOW_ABORTED
        self.event_buffer.record(kind, flow=flow, count=1, step=step, step_no=step_no, reason=reason,
                                 duration_s=duration_s)

    def _device_changed(self, status) -> None:
        if str(status.state) == DeviceState.BUSY:
            return  # every operation passes through BUSY; not news for the fleet
        now = (str(status.state), status.reason)
        if self._last_device_states.get(str(status.kind)) == now:
            return  # BUSY -> READY after each operation: the device did not change
        self._last_device_states[str(status.kind)] = now
        self.event_buffer.record(
            EventKind.DEVICE_STATE_CHANGED,
            device=DeviceKind(str(status.kind)),
            state=DeviceState(str(status.state)),
            reason=status.reason,
        )

    def _screen_text(self) -> str:
        return "out of service" if self.out_of_service else "ready"

    # -- ControlHandler ------------------------------------------------------------------
    async def status(self) -> AppStatus:
        self.calls["status"] += 1
        devices = []
        if self.supervisor is not None:
            devices = [device_health(s) for s in self.supervisor.statuses().values()]
        return AppStatus(
            app_version=self.app_version,
            uptime_s=round(time.monotonic() - self.started, 3),
            session_active=self.session_active,
            out_of_service=self.out_of_service,
            out_of_service_reason=self.out_of_service_reason,
            config_version=self.config_version,
            devices=devices,
            flows={k: v.model_copy() for k, v in self.flows.items()},
            **self._outbox_fields(),
        )

    def _outbox_fields(self) -> dict[str, Any]:
        try:
            stats = self.outbox_stats() if self.outbox_stats is not None else None
        except Exception:  # a locked or closed store must not cost the fleet its health message
            log.warning("outbox stats unavailable")
            stats = None
        if stats is None:
            return {}
        return dict(submission_queue_depth=stats.depth, submission_queue_oldest_s=stats.oldest_age_s,
                    submission_parked=stats.parked)

    async def self_test(self, device: DeviceKind | None) -> SelfTestResults:
        self.calls["self_test"] += 1
        if self.supervisor is None:
            raise NotImplementedError("self_test")
        kinds = [device] if device else list(self.supervisor.devices)
        if device is not None and str(device) not in {str(k) for k in self.supervisor.devices}:
            raise ControlRefused(f"no {device} device on this kiosk")
        results = []
        for kind in kinds:
            result = await asyncio.to_thread(self.supervisor[str(kind)].self_test)
            results.append(
                DeviceSelfTest(
                    kind=DeviceKind(str(result.kind)),
                    passed=result.passed,
                    checks=result.checks,
                    detail=redact(result.detail),
                    duration_s=result.duration_s,
                )
            )
        return SelfTestResults(results=results)

    async def screenshot(self) -> Screenshot:
        self.calls["screenshot"] += 1
        if self.session_active:
            raise ControlRefused("a citizen session is on screen")
        return await asyncio.to_thread(self.screenshot_source)

    async def set_out_of_service(self, enabled: bool, reason: str) -> AppStatus:
        self.calls["set_out_of_service"] += 1
        if enabled != self.out_of_service:
            self.event_buffer.record(EventKind.OUT_OF_SERVICE_CHANGED, state=None, reason=reason, count=int(enabled))
        self.out_of_service = enabled
        self.out_of_service_reason = reason if enabled else ""
        return await self.status()

    async def reload_config(self) -> ReloadResult:
        self.calls["reload_config"] += 1
        if self.config_path is None:
            raise NotImplementedError("reload_config")
        try:
            config = await asyncio.to_thread(read_config_file, self.config_path)
        except FileNotFoundError:
            return ReloadResult(applied=False, config_version=self.config_version, reason="no config file")
        except ValidationError as exc:
            return ReloadResult(applied=False, config_version=self.config_version, reason=_summary(exc))
        problem = self.check_config(config.settings)
        if problem:
            return ReloadResult(applied=False, config_version=self.config_version, reason=problem)
        self.settings = config.settings
        self.config_version = config.version
        for listener in list(self.config_listeners):
            listener(config.settings)
        self.event_buffer.record(EventKind.CONFIG_APPLIED, count=config.version)
        return ReloadResult(applied=True, config_version=config.version)

    def check_config(self, settings) -> str | None:
        """Why the app cannot apply these settings (e.g. an unknown service), or None. Replaceable."""
        return None

    async def recent_logs(self, lines: int) -> RecentLogs:
        self.calls["recent_logs"] += 1
        return RecentLogs(lines=self.log_buffer.lines(lines))

    async def events(self, instance: str, after: int, limit: int) -> AppEvents:
        return self.event_buffer.fetch(instance, after, limit)


class ControlServerThread:
    """A `ControlServer` on its own event loop in a daemon thread — for an app whose
    main loop is not asyncio's (Kivy's clock) and for tests."""

    def __init__(self, path: Path | str, handler: ControlHandler) -> None:
        self.server = ControlServer(path, handler)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="control-socket", daemon=True)

    def start(self) -> "ControlServerThread":
        self._thread.start()
        self.call(self.server.start())
        return self

    def call(self, coro, timeout: float = 30.0):
        """Run `coro` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    def __enter__(self) -> "ControlServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
