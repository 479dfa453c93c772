"""The service tab's catalogue card: which services this kiosk offers (the fleet's
`enabled_flows`), grouped as on the home screen, and which cannot run because a device they
need is not ready — read from `flows.catalogue` like the home screen, so staff see what
citizens see."""

from __future__ import annotations

from typing import Any

from kiosk import theme
from kiosk.diagnostics.widgets import BAD_MARK, OK_MARK, Card, line


def device_states(supervisor: Any) -> dict[str, str]:
    if supervisor is None:
        return {}
    return {str(kind): str(status.state) for kind, status in supervisor.statuses().items()}


def services_card(catalogue: Any, supervisor: Any, tr, s, config_version: int = 0) -> Card:
    states = device_states(supervisor)
    card = Card(padding=s.px(32), spacing=s.px(10))
    card.add_widget(line(tr("diag.services.heading", version=config_version or "-"), s.body, bold=True))
    for service in catalogue.all:
        title = tr(f"service.{service.name}.title")
        if service.name not in catalogue.enabled:
            card.add_widget(line(f"{BAD_MARK} {title} — {tr('diag.services.off')}", s.small, muted=True,
                                 kid=f"diag.services.{service.name}"))
            continue
        missing = sorted(d for d in service.devices if states and states.get(d) not in ("ready", "busy"))
        text = f"{OK_MARK} {title}  ({tr(f'ui.home.group.{service.group.value}')})"
        if missing:
            text = f"{BAD_MARK} {title} — {tr('diag.services.device_missing', devices=', '.join(missing))}"
        card.add_widget(line(text, s.small, colour=theme.DANGER if missing else None, kid=f"diag.services.{service.name}"))
    card.add_widget(line(tr("diag.services.note"), s.small, muted=True))
    return card
