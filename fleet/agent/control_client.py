"""The agent's side of the kiosk app's control socket (blocking, one request per connection).

A fresh connection per request keeps the agent indifferent to app restarts; the socket
is local, so the cost is nothing next to a 2-second poll.
"""

from __future__ import annotations

import itertools
import json
import socket
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from fleet.protocol.control import (
    MAX_LINE_BYTES,
    AppEvents,
    AppStatus,
    ControlError,
    ControlResponse,
    EventsRequest,
    OutOfServiceRequest,
    RecentLogs,
    RecentLogsRequest,
    ReloadConfigRequest,
    ReloadResult,
    Screenshot,
    ScreenshotRequest,
    SelfTestRequest,
    SelfTestResults,
    StatusRequest,
)
from fleet.protocol.messages import DeviceKind

R = TypeVar("R", bound=BaseModel)


class ControlUnavailable(Exception):
    """The app is not answering on its control socket (not running, hung, crashed)."""


class ControlRequestFailed(Exception):
    """The app answered with an error; `error` is the `ControlError`."""

    def __init__(self, error: ControlError | None, detail: str) -> None:
        super().__init__(detail or str(error))
        self.error = error
        self.detail = detail

    @property
    def refused(self) -> bool:
        return self.error is ControlError.REFUSED


class ControlClient:
    def __init__(self, path: Path | str, timeout: float = 10.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._rids = itertools.count(1)

    def request(self, request: BaseModel, result_type: type[R], timeout: float | None = None) -> R:
        rid = next(self._rids)
        line = request.model_copy(update={"rid": rid}).model_dump_json().encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout or self.timeout)
                sock.connect(self.path)
                sock.sendall(line)
                data = _read_line(sock)
        except (OSError, TimeoutError) as exc:
            raise ControlUnavailable(f"control socket {self.path}: {exc}") from None
        try:
            response = ControlResponse.model_validate_json(data)
        except ValidationError as exc:
            raise ControlUnavailable(f"control socket answered nonsense: {exc.error_count()} errors") from None
        if not response.ok:
            raise ControlRequestFailed(response.error, response.detail)
        try:
            return result_type.model_validate(response.result)
        except ValidationError as exc:  # includes results refused for personal data
            raise ControlRequestFailed(ControlError.FAILED, f"unusable {result_type.__name__} from the app: "
                                       f"{exc.error_count()} errors") from None

    # -- one method per request ------------------------------------------------------------
    def status(self) -> AppStatus:
        return self.request(StatusRequest(), AppStatus, timeout=5.0)

    def self_test(self, device: DeviceKind | None = None) -> SelfTestResults:
        return self.request(SelfTestRequest(device=device), SelfTestResults, timeout=120.0)

    def screenshot(self) -> Screenshot:
        return self.request(ScreenshotRequest(), Screenshot, timeout=20.0)

    def set_out_of_service(self, enabled: bool, reason: str = "") -> AppStatus:
        return self.request(OutOfServiceRequest(enabled=enabled, reason=reason), AppStatus)

    def reload_config(self) -> ReloadResult:
        return self.request(ReloadConfigRequest(), ReloadResult, timeout=30.0)

    def recent_logs(self, lines: int) -> RecentLogs:
        return self.request(RecentLogsRequest(lines=lines), RecentLogs)

    def events(self, instance: str, after: int, limit: int = 500) -> AppEvents:
        return self.request(EventsRequest(instance=instance, after=after, limit=limit), AppEvents)


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("control socket closed before a full response")
        newline = chunk.find(b"\n")
        if newline >= 0:
            chunks.append(chunk[:newline])
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_LINE_BYTES:
            raise ConnectionError("control response too long")
