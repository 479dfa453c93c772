"""The maintenance diagnostics screen, headless, on real simulators through the Supervisor:
the hidden corner and the staff PIN (lockout, persisted, clock), self-tests shown (and a
failing one after a simulator fault), the test page, the BP calibration check (pass and
fail), the eye-tester check, the camera preview with its face box, the redacted log, and
every staff action as an app event. Screenshots in artifacts/ui/diagnostics/."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging

import pytest

from kiosk.app import KioskOptions, create_app
from kiosk.diagnostics.staff_auth import AuthResult, StaffAuth
from kiosk.control import ControlRefused

from .diagnostics_support import (
    HOLD_S,
    PIN,
    FakeClock,
    SimKiosk,
    long_press,
    login,
    make_diagnostics,
    screenshot,
    staff_actions,
    text_of,
    type_pin,
    wait_text,
)


@pytest.fixture(scope="module")
def kiosk_devices():
    devices = SimKiosk()
    yield devices
    devices.stop()


@pytest.fixture
def new_diag(tmp_path, kiosk_devices):
    """Factory: a Diagnostics over the module's devices, its state in tmp_path; closed after the test."""
    made = []

    def make(clock=None):
        made.append(make_diagnostics(tmp_path, kiosk_devices.supervisor, clock))
        return made[-1]

    yield make
    for diag in made:
        diag.close()


@pytest.fixture
def shots(artifacts):
    return artifacts / "diagnostics"


def start(kivy_ui, diag, lang: str = "zh"):
    app = kivy_ui.start(create_app(KioskOptions(lang=lang, voice=False), [], diagnostics=diag))
    kivy_ui.wait_screen("home")
    return app


def actions(diag) -> list[str]:
    return [e.action for e in staff_actions(diag)]


# ------------------------------------------------------------------------------ PIN and lockout


def test_pin_lockout_persists_and_ends_with_the_clock(kivy_ui, tmp_path, kiosk_devices, new_diag, shots):
    clock = FakeClock()
    diag = new_diag(clock)
    start(kivy_ui, diag)
    corner = diag.corners[0]

    long_press(kivy_ui, corner, 0.05)  # a brush of the corner does nothing
    assert kivy_ui.app.sm.current == "home" and corner.fired == 0
    long_press(kivy_ui, corner, HOLD_S + 0.15, until=lambda: kivy_ui.app.sm.current == "staff_login")
    kivy_ui.wait_screen("staff_login")

    for attempt in range(1, 5):
        type_pin(kivy_ui, "111111")
        kivy_ui.tap("diag.login.submit")
        wait_text(kivy_ui, "diag.login.message", lambda t, n=5 - attempt: f"{n}次" in t)
    type_pin(kivy_ui, "111111")
    kivy_ui.tap("diag.login.submit")
    wait_text(kivy_ui, "diag.login.message", lambda t: "锁定" in t and "5分钟" in t)
    assert kivy_ui.find("diag.login.submit") is None  # disabled: nothing to tap while locked
    screenshot(kivy_ui, shots, "01-login-locked-zh")
    assert actions(diag) == ["login_failed"] * 5 + ["lockout"]
    assert staff_actions(diag)[-1].count == 300

    # the lockout is on disk: a restarted app (a new StaffAuth) refuses the right PIN too
    restarted = StaffAuth(tmp_path, clock=clock)
    assert restarted.locked_until() == pytest.approx(clock() + 300)
    assert restarted.check(PIN).result is AuthResult.LOCKED
    clock.advance(299)
    assert restarted.check(PIN).result is AuthResult.LOCKED

    clock.advance(2)  # 5 minutes have passed
    kivy_ui.tap("diag.login.back")
    kivy_ui.wait_screen("home")
    login(kivy_ui, diag)
    assert actions(diag)[-1] == "login"
    kivy_ui.tap("diag.exit")
    kivy_ui.wait_screen("home")
    assert actions(diag)[-1] == "logout"


def test_wrong_pin_counts_reset_after_a_good_login(tmp_path):
    clock = FakeClock()
    auth = StaffAuth(tmp_path, clock=clock)
    auth.set_pin("13572468")
    assert auth.check("00000000").failures_left == 4
    assert auth.check("13572468").ok
    assert auth.check("00000000").failures_left == 4  # consecutive failures only
    assert oct((tmp_path / "staff-pin.json").stat().st_mode & 0o777) == "0o600"
    assert "13572468" not in (tmp_path / "staff-pin.json").read_text()


def test_set_pin_command(tmp_path, monkeypatch, capsys):
    import io
    import json

    from kiosk.diagnostics.__main__ import main

    monkeypatch.setattr("sys.stdin", io.StringIO("12345\n"))
    assert main(["set-pin", "--stdin", "--state-dir", str(tmp_path)]) == 64  # too short: nothing stored
    assert main(["show", "--state-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"pin_set": False}
    monkeypatch.setattr("sys.stdin", io.StringIO("97531864\n"))
    assert main(["set-pin", "--stdin", "--state-dir", str(tmp_path)]) == 0
    main(["show", "--state-dir", str(tmp_path)])
    assert json.loads(capsys.readouterr().out)["scheme"] == "scrypt"
    assert StaffAuth(tmp_path).check("97531864").ok


# ------------------------------------------------------------------------------ devices


def test_self_test_results_shown_and_a_fault_fails_one(kivy_ui, tmp_path, kiosk_devices, new_diag, shots):
    diag = new_diag()
    start(kivy_ui, diag)
    login(kivy_ui, diag)

    kivy_ui.tap("diag.selftest.printer")
    text = wait_text(kivy_ui, "diag.selftest.result.printer", lambda t: "自检通过" in t)
    assert "paper 正常" in text
    kivy_ui.tap("diag.testpage")
    wait_text(kivy_ui, "diag.note.printer", lambda t: "测试页已打印" in t)
    assert kiosk_devices.sims["printer"].printed and kiosk_devices.sims["printer"].printed[-1].cut

    kiosk_devices.sims["bp"].faults.inject("silence")  # the bridge does not answer IDENTIFY
    kivy_ui.tap("diag.selftest.bp")
    text = wait_text(kivy_ui, "diag.selftest.result.bp", lambda t: "自检未通过" in t)
    assert "identify" in text and "异常" in text
    screenshot(kivy_ui, shots, "02-devices-zh")
    kivy_ui.tap("diag.selftest.bp")  # the next one passes again
    wait_text(kivy_ui, "diag.selftest.result.bp", lambda t: "自检通过" in t)

    tests = [(e.device.value, e.reason) for e in staff_actions(diag) if e.action in ("self_test", "test_page")]
    assert tests == [("printer", "passed"), ("printer", "printed"), ("bp", "failed"), ("bp", "passed")]


# ------------------------------------------------------------------------------ BP calibration


def run_calibration(ui, sim, sensor_error: float, readings=(0, 150, 250), begin: str = "diag.cal.start",
                    shot=None) -> str:
    ui.tap(begin)
    ui.wait_for(lambda: ui.find("diag.cal.read") is not None, what="the first calibration point")
    for n, target in enumerate(readings):
        if n == 1 and shot:
            shot()
        sim.static_pressure = float(target)  # staff pump the cuff; the manometer shows `target`
        sim.static_error = sensor_error
        for key in str(target):
            ui.tap(f"keypad.{key}")
        ui.tap("diag.cal.read")
        wait_text(ui, f"diag.cal.row.{target}", lambda t: "mmHg" in t)
    return wait_text(ui, "diag.cal.message", lambda t: "校准检查" in t)


def test_calibration_passes_within_3_mmhg_and_fails_beyond(kivy_ui, tmp_path, kiosk_devices, new_diag, shots):
    diag = new_diag()
    start(kivy_ui, diag)
    login(kivy_ui, diag)
    kivy_ui.tap("diag.tab.calibration")
    assert "还没有" in text_of(kivy_ui, "diag.cal.last")
    sim = kiosk_devices.sims["bp"]

    message = run_calibration(kivy_ui, sim, sensor_error=2.5,
                              shot=lambda: screenshot(kivy_ui, shots, "03-calibration-step-zh"))
    assert "通过" in message and "未通过" not in message and "2.5" in message
    assert "+2.5" in text_of(kivy_ui, "diag.cal.row.150")
    screenshot(kivy_ui, shots, "04-calibration-pass-zh")

    message = run_calibration(kivy_ui, sim, sensor_error=-4.0, begin="diag.cal.restart")
    assert "未通过" in message and "4.0" in message
    kivy_ui.tap("diag.language")  # the result is kept across a language switch
    assert "FAILED" in text_of(kivy_ui, "diag.cal.message") and "FAIL" in text_of(kivy_ui, "diag.cal.row.250")
    screenshot(kivy_ui, shots, "05-calibration-fail-en")
    sim.static_error = 0.0

    history = diag.calibrations.last()
    assert history is not None and not history.passed and [p.target_mmhg for p in history.points] == [0, 150, 250]
    lines = (tmp_path / "bp-calibration.jsonl").read_text().splitlines()
    assert len(lines) == 2 and history.serial == "SIM0001"
    cal = [(e.reason, e.detail) for e in staff_actions(diag) if e.action == "bp_calibration"]
    assert cal == [("passed", "max_deviation_mmhg=2.5"), ("failed", "max_deviation_mmhg=4.0")]


# ------------------------------------------------------------------------------ eye tester, camera


def test_eye_check_and_camera_preview_with_face_box(kivy_ui, tmp_path, kiosk_devices, new_diag, shots):
    diag = new_diag()
    start(kivy_ui, diag, lang="en")
    login(kivy_ui, diag)

    kivy_ui.tap("diag.tab.eye")
    kivy_ui.tap("diag.eye.run")  # the simulator's "citizen" is the staff member pressing the pad
    wait_text(kivy_ui, "diag.eye.result", lambda t: "PASSED" in t)
    screenshot(kivy_ui, shots, "06-eye-en")

    kivy_ui.tap("diag.tab.camera")
    kivy_ui.tap("diag.camera.start")
    screen = kivy_ui.app.screens["diagnostics"]
    kivy_ui.wait_for(lambda: screen.preview is not None and screen.preview.frames_shown >= 2
                     and screen.preview.last_check is not None, 600, "preview frames")
    check = screen.preview.last_check
    assert check.faces_found == 1 and check.face is not None
    assert screen.preview.texture is not None
    wait_text(kivy_ui, "diag.camera.status", lambda t: "1 face" in t)
    with pytest.raises(ControlRefused):  # no screenshot of a face leaves the kiosk
        asyncio.run(diag.handler.screenshot())
    screenshot(kivy_ui, shots, "07-camera-en")
    kivy_ui.tap("diag.tab.devices")
    assert screen.preview is None  # stopped and dropped when leaving the tab
    grabbed = concurrent.futures.ThreadPoolExecutor(1).submit(asyncio.run, diag.handler.screenshot())
    kivy_ui.wait_for(grabbed.done, what="the control socket's screen grab (read on the UI thread)")
    shot = grabbed.result()
    assert shot.png.startswith(b"\x89PNG") and (shot.width, shot.height) == (1080, 1920)

    assert [e.action for e in staff_actions(diag)][-2:] == ["eye_check", "camera_preview"]
    assert staff_actions(diag)[-2].reason == "passed"


# ------------------------------------------------------------------------------ logs, network, service


def test_logs_are_redacted_and_network_says_what_it_knows(kivy_ui, tmp_path, kiosk_devices, new_diag, shots):
    diag = new_diag()
    start(kivy_ui, diag)
    login(kivy_ui, diag)
    logging.getLogger("kiosk.flow").warning("renewal for 姓名：张三 tel 13812345678 done")
    kivy_ui.tap("diag.tab.logs")
    screen = kivy_ui.app.screens["diagnostics"]
    assert any("renewal for" in line for line in screen.log_lines)
    assert not any("张三" in line or "13812345678" in line for line in screen.log_lines)
    screenshot(kivy_ui, shots, "08-logs-zh")

    kivy_ui.tap("diag.tab.network")
    wait_text(kivy_ui, "diag.net.agent", lambda t: "从未" in t)
    assert "未知" in text_of(kivy_ui, "diag.net.broker")
    screenshot(kivy_ui, shots, "09-network-zh")

    kivy_ui.tap("diag.tab.service")
    kivy_ui.tap("diag.service.take_out")
    assert "暂停服务" in text_of(kivy_ui, "diag.service.state") and diag.handler.out_of_service
    screenshot(kivy_ui, shots, "10-service-out-zh")
    kivy_ui.tap("diag.exit")
    kivy_ui.wait_screen("out_of_service")
    screenshot(kivy_ui, shots, "11-attract-out-of-service-zh")
    login(kivy_ui, diag)  # the corner works on the out-of-service screen too
    kivy_ui.tap("diag.tab.service")
    kivy_ui.tap("diag.service.put_back")
    kivy_ui.tap("diag.exit")
    kivy_ui.wait_screen("home")
    assert actions(diag) == ["login", "view_logs", "out_of_service_on", "logout", "login", "out_of_service_off",
                             "logout"]
