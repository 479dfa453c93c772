"""Which services a citizen can start right now, and why not — decided per service, as data.

Every flow class may declare `offline_policy = OfflinePolicy(...)` (docs/offline.md):
- `PROVISIONAL`: accepted while the back office is unreachable. The writes wait in the
  outbox, the citizen gets a provisional reference on the receipt, pays later by scanning
  the printed QR before `pay_within_days`, and hears the decision by SMS or post notice.
- `ONLINE_ONLY` (the default, so a new service is safe until someone decides otherwise):
  not offered while the back office is unreachable; `reason` is the line the home screen
  shows instead ("网络中断，暂不能缴款").

The home screen renders `availability(...)` for each service; it never decides itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field

from flows.views import Msg, msg


class OfflineMode(StrEnum):
    PROVISIONAL = "provisional"
    ONLINE_ONLY = "online_only"


class OfflinePolicy(BaseModel):
    """What a service does while the back office cannot be reached."""

    model_config = ConfigDict(frozen=True)

    mode: OfflineMode = OfflineMode.ONLINE_ONLY
    reason: str = "availability.offline.online_only"  # why it is not offered (a catalog key)
    instead: str = ""  # what the citizen gets instead while offline (a catalog key)
    pay_within_days: int = Field(default=7, ge=1, le=60)  # pay-later deadline
    fee_fen: int = Field(default=0, ge=0)  # the published fee, charged on the pay-later order

    @property
    def accepts_offline(self) -> bool:
        return self.mode is OfflineMode.PROVISIONAL


DEFAULT_POLICY = OfflinePolicy()


class LinkState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # nothing sent or probed yet: treated as online


class Availability(BaseModel):
    """One service on the home screen: can it start, in which mode, and the line explaining it."""

    model_config = ConfigDict(frozen=True)

    service: str
    available: bool
    provisional: bool = False  # runs now, but the result is provisional (offline)
    note: Msg | None = None  # shown under the service's tile


def policy_of(flow_cls: Any) -> OfflinePolicy:
    return getattr(flow_cls, "offline_policy", DEFAULT_POLICY)


def link_state(online: bool | None) -> LinkState:
    return LinkState.UNKNOWN if online is None else (LinkState.ONLINE if online else LinkState.OFFLINE)


def availability(service: str, policy: OfflinePolicy, link: LinkState) -> Availability:
    if link is not LinkState.OFFLINE:
        return Availability(service=service, available=True)
    if policy.accepts_offline:
        return Availability(service=service, available=True, provisional=True,
                            note=msg(policy.instead or "availability.offline.provisional"))
    return Availability(service=service, available=False, note=msg(policy.reason))


def services_availability(flows: Iterable[tuple[str, Any]], link: LinkState) -> dict[str, Availability]:
    """`flows`: (service name, flow class) pairs, e.g. from flows.registry."""
    return {name: availability(name, policy_of(cls), link) for name, cls in flows}


def offline_abort_message(policy: OfflinePolicy) -> tuple[Msg, Msg]:
    """(what happened, what to do) for a service started offline that cannot run offline."""
    return msg(policy.reason), msg("availability.offline.come_back")
