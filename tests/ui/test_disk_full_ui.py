"""The app on a full state disk (a real tmpfs): out of service with a plain reason, and back by
itself when space returns — never in the middle of a citizen's session."""

from __future__ import annotations

from kiosk.app import KioskOptions, create_app
from kiosk.disk_guard import DiskGuard
from kiosk.service_loop import ServiceLoop

from ..flows.tiny_disk import fill, tiny_disk
from .demo_support import demo_service


def screen_texts(ui) -> str:
    out, stack = [], [ui.app.sm.current_screen]
    while stack:
        w = stack.pop()
        if isinstance(getattr(w, "text", None), str):
            out.append(w.text)
        stack.extend(w.children)
    return " ".join(out)


def test_a_full_disk_takes_the_kiosk_out_of_service_until_space_returns(kivy_ui, tmp_path):
    with tiny_disk(tmp_path / "disk", size="4m") as disk:
        guard = DiskGuard(disk, low_bytes=1 << 20, resume_bytes=2 << 20, interval_s=0.05)
        loop = ServiceLoop(disk_guard=guard, handle_signals=False)
        app = kivy_ui.start(create_app(KioskOptions(voice=False), [demo_service()], service_loop=loop))
        kivy_ui.wait_screen("home")

        app.start_service("demo")  # a citizen is already being served when the disk fills up
        kivy_ui.wait_for(lambda: app.session.active, what="the demo session")
        filler = fill(disk, leave_bytes=256 << 10)
        kivy_ui.frames(20)
        assert app.session.active and app.out_of_service_reason is None  # not cut off half-way
        app.end_session()
        kivy_ui.wait_screen("out_of_service")
        assert app.out_of_service_reason == "disk_full"
        assert "存储空间已满" in screen_texts(kivy_ui)
        app.start_service("demo")  # a tap that reaches the app anyway starts nothing
        kivy_ui.frames(3)
        assert not app.session.active

        filler.unlink()
        kivy_ui.wait_screen("home")
        assert app.out_of_service_reason is None
