"""The pluggable WLT photo decoder: clear error by default, plug-ins by code or setting."""

from __future__ import annotations

import sys
import types

import pytest

from peripherals.errors import DeviceError
from peripherals.idcard import wlt
from peripherals.idcard.errors import WltDecodeFailed, WltDecoderUnavailable
from peripherals.idcard.sim import scripted_card

BMP = b"BM" + bytes(60)


class FakeDecoder:
    def __init__(self, result: bytes = BMP) -> None:
        self.result = result
        self.seen: list[bytes] = []

    def decode(self, data: bytes) -> bytes:
        self.seen.append(data)
        return self.result


@pytest.fixture(autouse=True)
def _no_plugin(monkeypatch):
    monkeypatch.delenv(wlt.ENV_VAR, raising=False)
    wlt.set_wlt_decoder(None)
    yield
    wlt.set_wlt_decoder(None)


def test_default_says_vendor_library_not_shipped():
    with pytest.raises(WltDecoderUnavailable) as info:
        wlt.decode_photo(scripted_card().photo_wlt)
    assert "vendor library" in str(info.value) and isinstance(info.value, DeviceError)


def test_plugged_in_decoder_gets_the_raw_wlt():
    decoder = FakeDecoder()
    wlt.set_wlt_decoder(decoder)
    photo = scripted_card().photo_wlt
    assert wlt.decode_photo(photo) == BMP and decoder.seen == [photo]


def test_decoder_from_setting(monkeypatch):
    module = types.ModuleType("fake_wlt_plugin")
    module.make = FakeDecoder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_wlt_plugin", module)
    monkeypatch.setenv(wlt.ENV_VAR, "fake_wlt_plugin:make")
    assert wlt.decode_photo(bytes(1024)) == BMP


def test_broken_setting_is_unavailable(monkeypatch):
    monkeypatch.setenv(wlt.ENV_VAR, "no_such_module_for_wlt:make")
    with pytest.raises(WltDecoderUnavailable):
        wlt.decode_photo(bytes(1024))


def test_non_bmp_output_or_crash_is_decode_failed():
    wlt.set_wlt_decoder(FakeDecoder(b"GIF89a"))
    with pytest.raises(WltDecodeFailed):
        wlt.decode_photo(bytes(1024))

    class Crashing:
        def decode(self, data: bytes) -> bytes:
            raise RuntimeError("vendor library crashed")

    wlt.set_wlt_decoder(Crashing())
    with pytest.raises(WltDecodeFailed):
        wlt.decode_photo(bytes(1024))


def test_rejects_object_without_decode():
    with pytest.raises(TypeError):
        wlt.set_wlt_decoder(object())  # type: ignore[arg-type]
