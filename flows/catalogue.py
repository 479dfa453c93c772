"""The service catalogue: which services a kiosk offers, grouped the way the hall groups them.

One model read by the home screen (groups, search by pinyin initials, most-used first),
the fleet's configuration (`KioskSettings.enabled_flows` switches services per kiosk) and
the diagnostics screen (what is offered, and what a service needs). The UI only renders
what `Catalogue` answers; it keeps no list of its own.

The groups follow the Chongqing post-office halls the project is seeded from: the
traffic-police services (fines, the 6-year label, licence and vehicle-licence replacement
and reissue, card top-up), tax, post, the planning and natural-resources bureau's
property-certificate mailing, and the delivery of government-service documents.

`initials` are the pinyin initials of the Chinese title (驾驶证换证 → JSZHZ), which is how
a citizen types a service on a Chinese kiosk's letter keypad; `tests/flows/test_catalogue.py`
checks them against pypinyin.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Iterable, Mapping

from flows.registry import FLOWS


class ServiceGroup(StrEnum):
    """Hall order: the home screen shows the groups in this order."""

    TRAFFIC = "traffic"
    TAX = "tax"
    POST = "post"
    NATURAL_RESOURCES = "natural_resources"
    GOVERNMENT = "government"
    OTHER = "other"  # a flow the catalogue does not know (the demo, a test flow)


@dataclass(frozen=True)
class Service:
    """One tile: the flow it starts (a `flows.registry` name) and how citizens find it."""

    name: str  # flow name; i18n keys service.<name>.title / .desc
    group: ServiceGroup
    title_zh: str  # the Chinese title the initials come from (the screen shows the catalog text)
    initials: str  # pinyin initials of title_zh, upper case
    icon: str = ""
    devices: frozenset[str] = field(default_factory=frozenset)  # device kinds the flow cannot do without
    aliases: tuple[str, ...] = ()  # more initials a citizen may type (e.g. the common short name)

    def matches(self, typed: str) -> bool:
        """Typed letters match the start of the initials (or of any alias), or any later word start."""
        t = typed.strip().upper()
        if not t:
            return True
        return any(code.startswith(t) or t in code for code in (self.initials, *self.aliases))


SERVICES: tuple[Service, ...] = (
    Service("traffic-fines", ServiceGroup.TRAFFIC, "交通违法缴款", "JTWFJK", "qr", frozenset({"printer"}),
            aliases=("FK", "WZ")),  # 罚款, 违章
    Service("inspection-label", ServiceGroup.TRAFFIC, "六年免检标志", "LNMJBZ", "printer",
            frozenset({"idcard", "printer"})),
    Service("licence-renewal", ServiceGroup.TRAFFIC, "驾驶证期满换证", "JSZQMHZ", "eye",
            frozenset({"idcard", "camera", "eye", "printer"}), aliases=("JSZHZ",)),
    Service("licence-reissue", ServiceGroup.TRAFFIC, "驾驶证遗失补证", "JSZYSBZ", "idcard",
            frozenset({"idcard", "camera", "printer"}), aliases=("JSZBZ",)),
    Service("vehicle-licence", ServiceGroup.TRAFFIC, "行驶证补领换领", "XSZBLHL", "idcard",
            frozenset({"idcard", "printer"}), aliases=("XSZ",)),
    Service("card-topup", ServiceGroup.TRAFFIC, "交通卡充值", "JTKCZ", "card",
            frozenset({"cardreader", "printer"}), aliases=("CZ", "JKCZ")),  # 交卡充值
    Service("tax-invoice", ServiceGroup.TAX, "代开发票", "DKFP", "camera", frozenset({"idcard", "camera", "printer"}),
            aliases=("FP",)),
    Service("property-certificate", ServiceGroup.NATURAL_RESOURCES, "不动产权证书寄递", "BDCQZSJD", "printer",
            frozenset({"idcard", "printer"}), aliases=("BDC", "FCZ")),  # 房产证
    Service("document-delivery", ServiceGroup.GOVERNMENT, "政务服务件寄递", "ZWFWJJD", "camera",
            frozenset({"idcard", "doccam", "printer"}), aliases=("ZWJD", "JD")),
)
"""Every service this code base has a flow for. A kiosk offers the subset its fleet config enables."""


class UnknownService(ValueError):
    """A name in the fleet config that is no service of this catalogue."""


@dataclass(frozen=True)
class Matter:
    """A government-service matter (政务服务事项) whose papers the hall accepts and mails to the
    department, and whose result it mails back. `pages` is the least number of pages to scan."""

    key: str  # i18n key matter.<key>
    department: str  # the receiving department (printed on the cover sheet)
    title_zh: str
    initials: str
    pages: int = 1


MATTERS: tuple[Matter, ...] = (
    Matter("social_security_card", "重庆市人力资源和社会保障局", "社会保障卡补换", "SHBZKBH", 1),
    Matter("household_move", "重庆市公安局户政", "户口迁移证明", "HKQYZM", 2),
    Matter("business_licence_change", "重庆市市场监督管理局", "营业执照变更登记", "YYZZBGDJ", 2),
    Matter("provident_fund_withdrawal", "重庆市住房公积金管理中心", "住房公积金提取", "ZFGJJTQ", 1),
    Matter("pension_certification", "重庆市社会保险事务中心", "养老待遇资格认证", "YLDYZGRZ", 1),
)


def matter(key: str) -> Matter:
    for m in MATTERS:
        if m.key == key:
            return m
    raise KeyError(key)


class Catalogue:
    """The services offered on this kiosk and how the home screen orders them.

    `enabled`: the fleet's `enabled_flows` (empty or None: every service); `usage`: how often
    each service was started here (most-used first). Unknown enabled names raise
    `UnknownService` so a fleet typo is refused, not silently ignored.
    """

    def __init__(self, services: Iterable[Service] = SERVICES, *, enabled: Iterable[str] | None = None,
                 usage: Mapping[str, int] | None = None):
        self.all = tuple(services)
        names = [s.name for s in self.all]
        wanted = list(enabled or [])
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise UnknownService(f"unknown services: {', '.join(unknown)}")
        self.enabled = frozenset(wanted) if wanted else frozenset(names)
        self.usage = usage if usage is not None else {}  # shared with the UsageStore: counts as they grow

    def offered(self) -> list[Service]:
        return [s for s in self.all if s.name in self.enabled]

    def names(self) -> list[str]:
        return [s.name for s in self.offered()]

    def service(self, name: str) -> Service:
        for s in self.all:
            if s.name == name:
                return s
        raise KeyError(name)

    def groups(self) -> list[tuple[ServiceGroup, list[Service]]]:
        """Non-empty groups in hall order; inside a group, the most-used first (stable)."""
        offered = self.offered()
        out = []
        for group in ServiceGroup:
            members = [s for s in offered if s.group is group]
            if members:
                members.sort(key=lambda s: -self.usage.get(s.name, 0))
                out.append((group, members))
        return out

    def most_used(self, n: int = 3) -> list[Service]:
        """Up to `n` services that were started here, the most often first (ties: catalogue order)."""
        used = [s for s in self.offered() if self.usage.get(s.name, 0) > 0]
        used.sort(key=lambda s: -self.usage[s.name])
        return used[:n]

    def search(self, typed: str) -> list[Service]:
        """Services whose pinyin initials match what was typed; prefix matches first, then most-used."""
        t = typed.strip().upper()
        hits = [s for s in self.offered() if s.matches(t)]
        return sorted(hits, key=lambda s: (not any(c.startswith(t) for c in (s.initials, *s.aliases)),
                                           -self.usage.get(s.name, 0)))

    def with_enabled(self, enabled: Iterable[str] | None) -> "Catalogue":
        return Catalogue(self.all, enabled=enabled, usage=self.usage)


def catalogue_for(flow_names: Iterable[str], *, enabled: Iterable[str] | None = None,
                  usage: Mapping[str, int] | None = None) -> Catalogue:
    """The catalogue of the flows a kiosk was built with, in catalogue order; a flow the
    catalogue does not describe goes to `ServiceGroup.OTHER` under its own name."""
    names = list(flow_names)
    known = {s.name: s for s in SERVICES}
    services = [s for s in SERVICES if s.name in names]
    services += [Service(n, ServiceGroup.OTHER, n, "") for n in names if n not in known]
    return Catalogue(services, enabled=enabled, usage=usage)


def registered_catalogue(**kw) -> Catalogue:
    """Every service with a flow in `flows.registry`."""
    return catalogue_for(FLOWS, **kw)


class UsageStore:
    """How often each service was started on this kiosk (a small JSON file; no personal data).

    Written atomically (temp file + rename) so a power cut leaves the old counts or the new.
    """

    def __init__(self, path: Path | str | None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self.counts: dict[str, int] = self._load()

    def _load(self) -> dict[str, int]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # a damaged counter file only loses the ordering
        return {str(k): int(v) for k, v in data.items() if isinstance(v, int) and v >= 0}

    def record(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps(self.counts, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
