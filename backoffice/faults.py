"""Making the reference back office misbehave on purpose: latency, 5xx, dropped connections.

Rules are scoped by path prefix (the longest matching prefix wins) and applied by an ASGI
wrapper *outside* FastAPI, so a dropped connection is a real one: the wrapper reaches the
connection's asyncio transport through uvicorn's `send` (a bound method of the h11
request cycle, which holds `.transport`) and aborts it — the client reads nothing at all,
not even a status line. When the transport is not reachable (another server), it falls
back to promising a body with Content-Length and closing before sending it, which
clients also see as a broken connection.

A drop in phase 'after' lets the request be processed and committed first and then loses
the answer — the case idempotency keys exist for. Fault-control and inspection paths
(/v1/_*, /v1/submissions) are never faulted, so a test can always clear faults and count.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

EXEMPT_PREFIXES = ("/v1/_", "/v1/submissions")


class FaultRule(BaseModel):
    """What to do to requests whose path starts with `prefix`.

    Counts (`*_next`, `latency_count`) are consumed one per matching request; rates are
    probabilities per request (seeded RNG, see FaultConfig.seed).
    """

    model_config = ConfigDict(extra="forbid")

    prefix: str = Field(default="/v1/", pattern=r"^/")
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    latency_count: int | None = Field(default=None, ge=0)  # None: every request
    error_next: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: int = Field(default=503, ge=500, le=599)
    drop_next: int = Field(default=0, ge=0)
    drop_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    drop_phase: Literal["before", "after"] = "after"


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[FaultRule] = Field(default_factory=list)
    seed: int | None = None


class FaultController:
    """Holds the active rules; decides per request. Used only on the event loop."""

    def __init__(self, config: FaultConfig | None = None):
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.rules = [rule.model_copy() for rule in config.rules]
        self.seed = config.seed
        self._rng = random.Random(config.seed)

    def clear(self) -> None:
        self.configure(FaultConfig())

    def snapshot(self) -> FaultConfig:
        return FaultConfig(rules=[rule.model_copy() for rule in self.rules], seed=self.seed)

    def rule_for(self, path: str) -> FaultRule | None:
        if path.startswith(EXEMPT_PREFIXES):
            return None
        matching = [r for r in self.rules if path.startswith(r.prefix)]
        return max(matching, key=lambda r: len(r.prefix)) if matching else None

    def take_latency(self, rule: FaultRule) -> float:
        if rule.latency_ms <= 0 or rule.latency_count == 0:
            return 0.0
        if rule.latency_count is not None:
            rule.latency_count -= 1
        return rule.latency_ms / 1000

    def take_error(self, rule: FaultRule) -> bool:
        if rule.error_next > 0:
            rule.error_next -= 1
            return True
        return rule.error_rate > 0 and self._rng.random() < rule.error_rate

    def take_drop(self, rule: FaultRule) -> bool:
        if rule.drop_next > 0:
            rule.drop_next -= 1
            return True
        return rule.drop_rate > 0 and self._rng.random() < rule.drop_rate


class FaultMiddleware:
    """Outermost ASGI wrapper applying FaultController decisions to HTTP requests."""

    def __init__(self, app: Any, controller: FaultController):
        self.app = app
        self.controller = controller

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        rule = self.controller.rule_for(scope.get("path", "")) if scope["type"] == "http" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        delay = self.controller.take_latency(rule)
        if delay:
            await asyncio.sleep(delay)
        if self.controller.take_error(rule):
            log.info("fault: %d for %s", rule.error_status, scope["path"])
            await _send_error(send, rule.error_status)
            return
        if self.controller.take_drop(rule):
            log.info("fault: dropping connection (%s) for %s", rule.drop_phase, scope["path"])
            if rule.drop_phase == "after":
                await self.app(scope, receive, _swallow)
            await _drop_connection(send)
            return
        await self.app(scope, receive, send)


async def _swallow(message: dict) -> None:
    """The answer that gets lost."""


async def _send_error(send: Any, status: int) -> None:
    body = json.dumps({"error": {"code": "injected_fault", "message": "fault injected by the test harness"}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DroppedConnection(Exception):
    """Raised after a half-sent response so the server closes the socket."""


async def _drop_connection(send: Any) -> None:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()  # closes the socket now, unsent bytes discarded
        for _ in range(3):  # let the server notice connection_lost before we return
            await asyncio.sleep(0)
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise DroppedConnection("connection dropped by fault injection")
