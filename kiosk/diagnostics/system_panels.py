"""The logs (redacted), network and service (out-of-service switch, services offered) tabs.
"""

from __future__ import annotations

from kiosk import theme
from kiosk.diagnostics.log_viewer import recent_lines
from kiosk.diagnostics.network import network_status
from kiosk.diagnostics.services_panel import services_card
from kiosk.diagnostics.widgets import BAD_MARK, OK_MARK, Card, button, line


class SystemPanels:
    """A tab of `DiagnosticsScreen` (a mixin: it uses the screen's diag, tr, s and render)."""

    # =========================================================================== logs
    def _build_logs(self, column) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.logs.heading")))
        column.add_widget(button("diag.logs.refresh", tr("diag.logs.refresh"), self.refresh, size=s.px(40),
                                 height=s.target))
        lines = recent_lines(self.diag.log_buffer, 30)
        card = Card(padding=s.px(24), spacing=s.px(6))
        for text in lines or [tr("diag.logs.empty")]:
            card.add_widget(line(text, s.px(32), muted=False))
        column.add_widget(card)
        self.log_lines = lines

    # =========================================================================== network
    def _build_network(self, column) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.net.heading")))
        net = self.network
        card = Card(padding=s.px(28), spacing=s.px(10))
        if net is None:
            card.add_widget(line(tr("diag.net.checking"), s.body))
            self._check_network()
        else:
            reach = lambda r: tr(f"diag.reach.{r.value}")  # noqa: E731
            route = reach(net.default_route) + (f" ({net.interface})" if net.interface else "")
            card.add_widget(line(tr("diag.net.route", value=route), s.body, kid="diag.net.route"))
            ago = (tr("diag.net.agent_ago", seconds=f"{net.agent_last_contact_s:.0f}")
                   if net.agent_last_contact_s is not None else tr("diag.net.agent_never"))
            card.add_widget(line(tr("diag.net.agent", value=ago), s.body, kid="diag.net.agent"))
            if net.broker_address:
                card.add_widget(line(tr("diag.net.broker", address=net.broker_address, value=reach(net.broker)), s.body,
                                     kid="diag.net.broker"))
            else:
                card.add_widget(line(tr("diag.net.broker_unconfigured"), s.body, kid="diag.net.broker"))
            card.add_widget(line(tr("diag.net.agent_link"), s.small, muted=True))
            server = self.diag.server
            card.add_widget(line(tr("diag.net.socket", value=str(server.server.path) if server else tr("diag.net.socket_off")),
                                 s.small, muted=True))
        column.add_widget(card)
        column.add_widget(button("diag.net.refresh", tr("diag.net.refresh"), self._recheck_network, size=s.px(40),
                                 height=s.target))
        self._build_outbox(column)  # outbox_panel.OutboxPanel: what waits for the back office, what it refused

    def _recheck_network(self) -> None:
        self.network = None
        self.refresh()

    def _check_network(self) -> None:
        settings, handler = self.diag.settings, self.diag.handler

        def done(status, error) -> None:
            if error is None:
                self.network = status
                if self.tab == "network":
                    self.refresh()

        self.diag.run(lambda: network_status(settings.broker_address, handler.last_agent_contact), done)

    # =========================================================================== service
    def _build_service(self, column) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.tab.service")))
        out = self.diag.handler.out_of_service
        card = Card(padding=s.px(32), spacing=s.px(12), bg=list(theme.SURFACE),
                    border=list(theme.DANGER if out else theme.ACCENT_OK))
        card.add_widget(line(f"{BAD_MARK if out else OK_MARK} " + tr("diag.service.out" if out else "diag.service.in"),
                             s.px(50), bold=True, colour=theme.DANGER if out else theme.ACCENT_OK, kid="diag.service.state"))
        card.add_widget(line(tr("diag.service.note"), s.small, muted=True))
        column.add_widget(card)
        if self.diag.app is not None:
            column.add_widget(services_card(self.diag.app.catalogue, self.diag.supervisor(), tr, s,
                                            self.diag.handler.config_version))
        if out:
            column.add_widget(button("diag.service.put_back", tr("diag.service.put_back"),
                                     lambda: self._set_out_of_service(False), size=s.button_text,
                                     height=s.primary_target, style="primary", primary=True))
        else:
            column.add_widget(button("diag.service.take_out", tr("diag.service.take_out"),
                                     lambda: self._set_out_of_service(True), size=s.button_text,
                                     height=s.primary_target, style="danger", primary=True))

    def _set_out_of_service(self, enabled: bool) -> None:
        self.diag.set_out_of_service(enabled)
        self.refresh()
