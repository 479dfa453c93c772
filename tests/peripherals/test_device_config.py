"""Device map settings: TOML file plus environment overrides."""

from __future__ import annotations

import pytest

from peripherals.base import DeviceKind
from peripherals.config import DeviceSettings
from peripherals.registry import DRIVERS, driver_class


def test_defaults_are_all_simulated(monkeypatch):
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    devices = DeviceSettings().devices
    assert set(devices) == set(DeviceKind)
    assert all(d.driver in DRIVERS for d in devices.values())


def test_toml_file_and_env_override(tmp_path, monkeypatch):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(
        '[devices.idcard]\ndriver = "idcard.sam"\nport = "/dev/kiosk/idcard"\noptions = { baudrate = 115200 }\n'
        '[devices.bp]\ndriver = "bp.accutorr"\nport = "/dev/kiosk/bp"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("KIOSK_CONFIG", str(cfg))
    monkeypatch.setenv("KIOSK_DEVICES__BP__PORT", "/dev/ttyUSB3")
    devices = DeviceSettings().devices
    assert devices[DeviceKind.IDCARD].port == "/dev/kiosk/idcard"
    assert devices[DeviceKind.IDCARD].options == {"baudrate": 115200}
    assert devices[DeviceKind.BP].port == "/dev/ttyUSB3"


def test_missing_config_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        DeviceSettings()


def test_unknown_driver_name():
    with pytest.raises(ValueError, match="unknown driver"):
        driver_class("toaster.v1")
