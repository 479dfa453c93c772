"""The home screen as a view of the service catalogue: the hall's groups, search by pinyin
initials, the most-used services first, and services switched off by the fleet config."""

from __future__ import annotations

from flows import registry
from flows.catalogue import ServiceGroup
from fleet.protocol.messages import KioskSettings
from kiosk.app import KioskOptions, ServiceEntry, create_app
from kiosk.autopilot import walk


def every_service() -> list[ServiceEntry]:
    return [ServiceEntry(name=n, make_flow=lambda n=n: registry.create(n)) for n in registry.FLOWS]


def tile_ids(app) -> list[str]:
    return [w.kiosk_id for w in walk(app.screens["home"]) if getattr(w, "kiosk_id", "").startswith("home.")
            and not w.kiosk_id.startswith("home.search")]


def texts(app) -> set[str]:
    """Every text on home, as written (tile texts are wrapped to their width: kiosk.widgets.wrap)."""
    return {getattr(w, "source_text", w.text) for w in walk(app.screens["home"]) if isinstance(getattr(w, "text", None), str)}


def test_home_offers_every_service_grouped_as_the_hall_does(kivy_ui, artifacts):
    app = kivy_ui.start(create_app(KioskOptions(lang="zh"), every_service()))
    ids = tile_ids(app)
    assert {f"home.service.{n}" for n in registry.FLOWS} <= set(ids)
    shown = texts(app)
    for group in (ServiceGroup.TRAFFIC, ServiceGroup.TAX, ServiceGroup.NATURAL_RESOURCES):
        assert app.tr(f"ui.home.group.{group.value}") in shown
    # hall order: the traffic police's group (with the vehicle licence) before tax, tax before the bureau's
    assert ids.index("home.service.vehicle-licence") < ids.index("home.service.tax-invoice") \
        < ids.index("home.service.property-certificate")
    app.screens["home"].export_to_png(str(artifacts / "home-catalogue-zh.png"))


def test_search_by_pinyin_initials_finds_the_vehicle_licence(kivy_ui, artifacts):
    app = kivy_ui.start(create_app(KioskOptions(lang="zh"), every_service()))
    kivy_ui.tap("home.search")
    for ch in "XSZ":
        kivy_ui.tap(f"home.search.key.{ch}")
    assert [i for i in tile_ids(app) if i.startswith("home.service.")] == ["home.service.vehicle-licence"]
    app.screens["home"].export_to_png(str(artifacts / "home-search-xsz.png"))
    kivy_ui.tap("home.search.clear")
    assert len([i for i in tile_ids(app) if i.startswith("home.service.")]) == len(registry.FLOWS)


def test_most_used_services_come_first(kivy_ui, tmp_path):
    counts = tmp_path / "service_usage.json"
    counts.write_text('{"property-certificate": 5, "traffic-fines": 2}')
    app = kivy_ui.start(create_app(KioskOptions(lang="en", state_dir=tmp_path), every_service()))
    ids = tile_ids(app)
    assert ids[:2] == ["home.top.property-certificate", "home.top.traffic-fines"]
    assert app.tr("ui.home.most_used") in texts(app)


def test_the_fleet_config_switches_services_off_and_a_typo_is_refused(kivy_ui):
    app = kivy_ui.start(create_app(KioskOptions(lang="en"), every_service()))
    assert app.check_fleet_settings(KioskSettings(enabled_flows=["traffic-fines", "no-such-service"])) is not None
    app.apply_fleet_settings(KioskSettings(enabled_flows=["traffic-fines", "vehicle-licence"]))
    kivy_ui.frames(3)
    assert sorted(i for i in tile_ids(app) if i.startswith("home.service.")) == [
        "home.service.traffic-fines", "home.service.vehicle-licence"]
    app.start_service("tax-invoice")  # switched off: a stale tap starts nothing
    assert not app.session.active


def test_with_the_back_office_down_home_says_which_services_wait_and_why(kivy_ui, tmp_path, artifacts):
    """docs/offline.md: fines are not offered ("网络中断，暂不能缴款"), a renewal is, provisionally."""
    from flows.services import HttpBackOffice
    from kiosk.outbox_runtime import KioskOutbox

    outbox = KioskOutbox(tmp_path, lambda: HttpBackOffice("http://127.0.0.1:9", retries=0, connect_timeout=0.5),
                         kiosk_id="cq-ui-1")
    app = kivy_ui.start(create_app(KioskOptions(lang="zh", state_dir=tmp_path), every_service(), outbox=outbox))

    def tile(name: str):
        return next(w for w in walk(app.screens["home"]) if getattr(w, "kiosk_id", "") == f"home.service.{name}")

    kivy_ui.wait_for(lambda: tile("traffic-fines").disabled, frames=2000, what="fines tile disabled")
    shown = texts(app)
    assert "网络中断，暂不能缴款" in shown and app.tr("availability.offline.licence") in shown
    assert not tile("licence-renewal").disabled and tile("tax-invoice").disabled
    app.start_service("traffic-fines")
    assert not app.session.active  # an unavailable service cannot start
    app.screens["home"].export_to_png(str(artifacts / "home-offline-zh.png"))


def test_diagnostics_service_tab_lists_what_the_fleet_switched_off(kivy_ui, tmp_path, artifacts):
    import json

    from .diagnostics_support import login, make_diagnostics, text_of

    config = tmp_path / "fleet-config.json"  # what the agent wrote on apply_config
    config.write_text(json.dumps({"version": 4, "settings": {"enabled_flows": ["traffic-fines", "card-topup"]}}))
    diag = make_diagnostics(tmp_path, None, fleet_config_path=config)
    app = kivy_ui.start(create_app(KioskOptions(lang="zh", voice=False), every_service(), diagnostics=diag))
    kivy_ui.wait_screen("home")
    assert sorted(i for i in tile_ids(app) if i.startswith("home.service.")) == [
        "home.service.card-topup", "home.service.traffic-fines"]  # read at start, before any reload
    login(kivy_ui, diag)
    kivy_ui.tap("diag.tab.service")
    shown = "".join(str(getattr(w, "source_text", None) or getattr(w, "text", "") or "")
                    for w in walk(app.screens["diagnostics"]))
    assert "车队配置版本 4" in shown
    assert "关闭" in text_of(kivy_ui, "diag.services.tax-invoice")
    assert "关闭" not in text_of(kivy_ui, "diag.services.card-topup")
    app.screens["diagnostics"].export_to_png(str(artifacts / "diagnostics-services-zh.png"))


def test_a_redraw_keeps_the_list_where_the_citizen_scrolled_it(kivy_ui):
    app = kivy_ui.start(create_app(KioskOptions(lang="zh"), every_service()))
    home = app.screens["home"]
    home._scroll.scroll_y = 0.0  # scrolled to the bottom
    app.show_home()  # e.g. the back office came online
    kivy_ui.frames(2)
    assert home._scroll.scroll_y == 0.0
    tile = kivy_ui.find("home.service.document-delivery")
    y = tile.to_window(*tile.center)[1]
    assert 0 < y < 1920


def test_no_tile_title_is_cut_in_english_or_large_text(kivy_ui, artifacts):
    from kivy.core.text import Label as CoreLabel
    from kivy.uix.label import Label

    for lang, elderly in (("en", False), ("en", True), ("zh", True), ("zh", False)):
        app = kivy_ui.start(create_app(KioskOptions(lang=lang, elderly=elderly), every_service()))
        kivy_ui.frames(4)
        for tile in (w for w in walk(app.screens["home"]) if getattr(w, "kiosk_id", "").startswith("home.service.")):
            title = next(w for w in walk(tile) if isinstance(w, Label) and w.bold and w.text)
            whole = CoreLabel(text=title.text, font_size=title.font_size, bold=True, font_name=title.font_name,
                              text_size=(title.width, None))  # the title wrapped to its width, unclipped
            whole.refresh()
            assert whole.texture.size[1] <= title.height + 1, (lang, elderly, title.text)
            assert title.top <= tile.top + 1 and title.y >= tile.y - 1, (lang, elderly, title.text)
        app.screens["home"].export_to_png(str(artifacts / f"home-{lang}{'-elderly' if elderly else ''}.png"))
        app.stop()
        kivy_ui.app = None


def test_a_redraw_while_a_finger_is_on_a_tile_neither_swallows_the_tap_nor_counts_as_a_new_screen(kivy_ui):
    """The elderly autopilot stuck on home (issue 22): the back office's link state arrived while the
    tile was being tapped, home was rebuilt under the finger and announced as a new "home" screen."""
    from kiosk.autopilot import _touch_class
    from kiosk.tts import RecordingSpeaker

    from .demo_support import demo_service

    speaker = RecordingSpeaker()
    app = kivy_ui.start(create_app(KioskOptions(lang="zh", elderly=True), [demo_service()], speaker=speaker))
    events: list[str] = []
    app.view_listeners.append(lambda name, view: events.append(name))
    spoken_before = len(speaker.spoken)
    tile = kivy_ui.find("home.service.demo")
    touch = _touch_class()(*tile.to_window(*tile.center))
    touch.touch_down()
    kivy_ui.frames(1)
    app._post(app._link_changed)  # as the outbox's link callback does, from the flow thread
    kivy_ui.frames(2)
    assert kivy_ui.find("home.service.demo") is tile  # not rebuilt under the finger
    touch.touch_up()
    kivy_ui.wait_for(lambda: app.session.active, what="the tapped service started")
    assert "home" not in events  # a redraw is an update, never "home shown again"
    assert len([t for _, t in speaker.spoken[spoken_before:] if t == app.tr("ui.home.prompt")]) == 0


def test_a_redraw_on_the_idle_home_screen_is_an_update_and_is_not_spoken_again(kivy_ui):
    from kiosk.tts import RecordingSpeaker

    speaker = RecordingSpeaker()
    app = kivy_ui.start(create_app(KioskOptions(lang="zh"), every_service(), speaker=speaker))
    events: list[str] = []
    app.view_listeners.append(lambda name, view: events.append(name))
    old = kivy_ui.find("home.service.traffic-fines")
    spoken = len(speaker.spoken)
    app._link_changed()
    kivy_ui.frames(2)
    assert kivy_ui.find("home.service.traffic-fines") is not old  # redrawn (availability may have changed)
    assert events == ["home:update"] and len(speaker.spoken) == spoken


def test_every_tile_icon_is_drawn_where_its_tile_is(kivy_ui):
    """A tile's pictogram was once drawn where the tile had been before the list settled (a stray
    camera between two English tiles): the drawing read Kivy's cached `center` during a move."""
    from kivy.graphics import Ellipse

    from kiosk.widgets.illustration import Illustration

    app = kivy_ui.start(create_app(KioskOptions(lang="en"), every_service()))
    kivy_ui.frames(4)
    icons = [w for w in walk(app.screens["home"]) if isinstance(w, Illustration) and w.key]
    assert icons
    for w in icons:
        disc = next(c for c in w.canvas.children if isinstance(c, Ellipse))
        d = min(w.size)
        assert abs(disc.pos[0] - (w.x + w.width / 2 - d / 2)) < 1 and abs(disc.pos[1] - (w.y + w.height / 2 - d / 2)) < 1
