"""Device settings: which driver serves each device kind, on which port, with which options.

Read from a TOML file (``KIOSK_CONFIG``, else ``/etc/kiosk/kiosk.toml``, else the shipped
``config/virtual.toml``-style defaults below) with environment overrides such as
``KIOSK_DEVICES__IDCARD__PORT=/dev/kiosk/idcard``. Only the ``[devices.*]`` tables are
read here; the app's own settings extend this model in ``kiosk``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from peripherals.base import DeviceKind
from peripherals.settings_files import TomlFileSettings, settings_file

CONFIG_ENV = "KIOSK_CONFIG"
DEFAULT_CONFIG_PATHS = (Path("/etc/kiosk/kiosk.toml"),)


class DeviceConfig(BaseModel):
    driver: str  # a key of peripherals.registry.DRIVERS, e.g. "idcard.sam"
    port: str  # a pyserial URL, usb://VID:PID, simusb://..., a camera index or simcam://...
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)  # driver keyword arguments


class AudioConfig(BaseModel):
    """The hearing test's sound output (peripherals.audio.outputs.open_output URL)."""

    output: str = "portaudio:"  # the default PortAudio/ALSA device; "portaudio:NAME", "wav:PATH", "none"
    calibration_file: Path | None = None  # default: <state dir>/audio-calibration.json


def simulated_devices() -> dict[DeviceKind, DeviceConfig]:
    """Every device on its simulator: the virtual kiosk and the tests start from this."""
    return {
        DeviceKind.IDCARD: DeviceConfig(driver="idcard.sam", port="sim://idcard?name=idcard"),
        DeviceKind.BP: DeviceConfig(driver="bp.accutorr", port="sim://bp?name=bp", options={"baudrate": 9600}),
        DeviceKind.EYE: DeviceConfig(driver="eye.kvt", port="sim://eye?name=eye"),
        DeviceKind.PRINTER: DeviceConfig(driver="printer.escpos_usb", port="simusb://printer?name=printer"),
        DeviceKind.CAMERA: DeviceConfig(driver="camera.opencv", port="simcam://camera?source=face"),
        DeviceKind.HEIGHT: DeviceConfig(driver="height.tanita", port="sim://height?name=height"),
        DeviceKind.CARDREADER: DeviceConfig(driver="cardreader.pn532", port="sim://cardreader?name=cardreader"),
        DeviceKind.DOCCAM: DeviceConfig(driver="doccam.opencv", port="simcam://doccam?source=document&size=1600x1200",
                                        options={"width": 1600, "height": 1200}),
    }


def config_file() -> Path | None:
    return settings_file(CONFIG_ENV, DEFAULT_CONFIG_PATHS)


class DeviceSettings(TomlFileSettings):
    model_config = SettingsConfigDict(env_prefix="KIOSK_", env_nested_delimiter="__", extra="ignore")

    config_env: ClassVar[str] = CONFIG_ENV
    config_defaults: ClassVar[tuple[Path, ...]] = DEFAULT_CONFIG_PATHS

    devices: dict[DeviceKind, DeviceConfig] = Field(default_factory=simulated_devices)
    audio: AudioConfig = Field(default_factory=AudioConfig)
