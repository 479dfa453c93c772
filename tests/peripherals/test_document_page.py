"""The document camera's page pipeline on photographed forms: page detection, perspective
correction, deskew and the readable-page check (peripherals.camera.page), and the doccam
simulator scenes."""

from __future__ import annotations

import numpy as np
import pytest

from peripherals.camera import page as pg
from peripherals.camera.doccam import DocumentCamera
from peripherals.camera.errors import PageNotFound, PageUnreadable
from peripherals.camera.page_scene import A4_RATIO, desk, flat_page, page_photo


@pytest.mark.parametrize("seed, turn, tilt", [(0, 4.0, 0.08), (1, -7.0, 0.12), (2, 12.0, 0.05), (3, 0.0, 0.0)])
def test_the_page_is_found_within_a_few_pixels_and_flattened_to_a4(seed, turn, tilt):
    photo = page_photo(seed=seed, turn_deg=turn, tilt=tilt)
    corners = pg.find_page(photo.image)
    assert corners is not None
    diagonal = float(np.hypot(*photo.image.shape[:2]))
    assert np.abs(corners - photo.corners).max() < 0.005 * diagonal  # ≤ 10 px on a 1600×1200 photo
    scanned = pg.scan_page(photo.image)
    h, w = scanned.image.shape[:2]
    assert w == 1240 and abs(h / w - A4_RATIO) < 0.01
    assert scanned.quality.readable and scanned.jpeg[:2] == b"\xff\xd8"


@pytest.mark.parametrize("skew", [3.0, -5.0, 8.0])
def test_print_turned_on_the_sheet_is_straightened(skew):
    page = flat_page(skew_deg=skew)
    assert abs(pg.skew_angle(page) - skew) < 0.3
    straight, undone = pg.deskew(page)
    assert abs(undone - skew) < 0.3 and abs(pg.skew_angle(straight)) < 0.3


def test_blurred_dark_and_blank_pages_are_refused_with_the_reason():
    with pytest.raises(PageUnreadable) as blurred:
        pg.scan_page(page_photo(blur=4.0).image)
    assert "blurred" in blurred.value.problems
    dim = (page_photo().image.astype(np.float32) * 0.25).astype(np.uint8)
    with pytest.raises(PageUnreadable) as dark:
        pg.scan_page(dim)
    assert "low_contrast" in dark.value.problems
    blank = np.full((1754, 1240, 3), 248, np.uint8)
    assert pg.quality(blank).problems and "no_text" in pg.quality(blank).problems


def test_no_page_on_the_desk_is_page_not_found():
    with pytest.raises(PageNotFound):
        pg.scan_page(desk(1600, 1200))
    with pytest.raises(PageNotFound):
        pg.scan_page(np.zeros((10, 10, 3), np.uint8))


def test_the_document_camera_simulator_serves_a_page_photo():
    cam = DocumentCamera("simcam://doccam-test?source=document&size=1600x1200", width=1600, height=1200)
    cam.open()
    try:
        assert cam.info().kind.value == "doccam"
        assert pg.scan_page(cam.read_frame()).quality.readable
    finally:
        cam.close()
        from peripherals.camera import sim

        sim.forget("doccam-test")
