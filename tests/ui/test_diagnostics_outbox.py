"""Diagnostics, network tab: the outbox — the back-office link, what waits, and the parked
submissions the back office refused for good, which staff clear once checked (docs/offline.md)."""

from __future__ import annotations

from backoffice.testing import address
from flows.services import HttpBackOffice
from flows.services.models import WaybillRequest
from kiosk.app import KioskOptions, create_app
from kiosk.outbox_runtime import KioskOutbox

from .diagnostics_support import login, make_diagnostics, screenshot, text_of, wait_text


def test_parked_submissions_are_shown_and_cleared(kivy_ui, tmp_path, artifacts):
    outbox = KioskOutbox(tmp_path / "state", lambda: HttpBackOffice("http://127.0.0.1:9", retries=0,
                                                                     connect_timeout=0.5), kiosk_id="cq-diag-1")
    diag = make_diagnostics(tmp_path / "state", None)
    try:
        app = kivy_ui.start(create_app(KioskOptions(lang="zh", voice=False), [], diagnostics=diag, outbox=outbox))
        kivy_ui.wait_screen("home")
        store = outbox.outbox.store
        request = WaybillRequest(address=address(), contents="机动车驾驶证")
        store.enqueue("create_waybill", request, "key-00000001", lane="s1", reference="CQ-DIAG-1-000001-X")
        refused = store.enqueue("create_waybill", request, "key-00000002", lane="s2", reference="CQ-DIAG-1-000002-Y")
        store.park(refused.seq, "invalid_field")
        login(kivy_ui, diag)
        kivy_ui.tap("diag.tab.network")
        wait_text(kivy_ui, "diag.outbox.summary", lambda t: "等待发送 1 件" in t and "退回 1 件" in t)
        parked = text_of(kivy_ui, f"diag.outbox.parked.{refused.seq}")
        assert "CQ-DIAG-1-000002-Y" in parked and "invalid_field" in parked and "邮寄单" in parked
        assert address().street not in parked
        screenshot(kivy_ui, artifacts, "diagnostics-outbox-zh")
        kivy_ui.tap(f"diag.outbox.discard.{refused.seq}")
        wait_text(kivy_ui, "diag.outbox.summary", lambda t: "退回 0 件" in t)
        assert [i.status for i in store.items()] == ["pending"]
        assert app.diagnostics.handler.outbox_stats().depth == 1  # the same numbers go to the fleet
    finally:
        diag.close()
