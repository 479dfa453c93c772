"""Figures of the hall's further services: the document camera's page pipeline, the PDF, and
one transit-card load through the PN532 simulator.

    .venv/bin/python bench/services.py [--runs 5]

Prints, as thread CPU time on one core (OpenCV limited to the calling thread; other load on
the machine does not inflate it), per 1600×1200
photo: page detection, perspective correction + deskew, the readable check, the whole
`scan_page`; the JPEG size of a scanned page and the PDF size per page (img2pdf, lossless:
the PDF embeds the JPEG as it is); and the wall time of one card top-up's device work over
sim:// (read purse, INITIALIZE FOR LOAD, CREDIT FOR LOAD, GET TRANSACTION PROVE), with the
page pipeline's worst corner error in pixels over 4 photographed forms as the last line:
    services: scan_page X ms, pdf Y KiB/page, card load Z ms, corner error E px
With `--photos DIR` it also runs the pipeline on real photos (e.g. the sample_images of
github.com/andrewdcampbell/OpenCV-Document-Scanner, phone photos of documents on desks).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.thread_time()
        fn()
        times.append((time.thread_time() - t) * 1000)
    return statistics.median(times)


def main() -> int:
    import base64

    import cv2
    import numpy as np

    from flows.document_delivery import build_pdf
    from peripherals.camera import page as pg
    from peripherals.camera.page_scene import page_photo
    from peripherals.cardreader import purse
    from peripherals.cardreader.driver import Pn532PurseReader

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--photos", type=Path, help="also run scan_page on every photo in this directory")
    args = parser.parse_args()
    runs = args.runs
    cv2.setNumThreads(1)  # all OpenCV work on this thread, so its CPU time is all counted

    photos = [page_photo(seed=s, turn_deg=t, tilt=k) for s, t, k in ((0, 4, 0.08), (1, -7, 0.12), (2, 12, 0.05), (3, 0, 0))]
    photo = photos[0].image
    corners = pg.find_page(photo)
    flat = pg.rectify(photo, corners)
    err = max(float(np.abs(pg.find_page(p.image) - p.corners).max()) for p in photos)
    detect = cpu_ms(lambda: pg.find_page(photo), runs)
    flatten = cpu_ms(lambda: pg.deskew(pg.rectify(photo, corners)), runs)
    check = cpu_ms(lambda: pg.quality(flat), runs)
    whole = cpu_ms(lambda: pg.scan_page(photo), runs)
    jpeg = pg.scan_page(photo).jpeg
    pages = [base64.b64encode(pg.scan_page(p.image).jpeg).decode() for p in photos]
    pdf = build_pdf(pages)
    print(f"page detection          {detect:7.1f} ms")
    print(f"rectify + deskew        {flatten:7.1f} ms")
    print(f"readable check          {check:7.1f} ms")
    print(f"scan_page (whole)       {whole:7.1f} ms")
    print(f"scanned page JPEG       {len(jpeg) / 1024:7.1f} KiB (1240 px wide, quality 80)")
    print(f"PDF of {len(pages)} pages          {len(pdf) / 1024:7.1f} KiB ({len(pdf) / len(pages) / 1024:.1f} KiB/page)")
    print(f"worst corner error      {err:7.1f} px over {len(photos)} photos (1600×1200)")

    reader = Pn532PurseReader("sim://cardreader?name=bench-card&balance=0")
    reader.open()
    loads = []
    try:
        for _ in range(runs):
            t = time.perf_counter()
            reader.read_purse(1)
            x = reader.initialize_load(100, wait=1)
            sk = purse.session_key(purse.diversify(purse.TEST_MASTER_LOAD_KEY, x.card_number), bytes.fromhex(x.random),
                                   x.online_counter)
            when = "20261207120000"
            tac = reader.credit_load(when, purse.mac2(sk, 100, bytes.fromhex(x.terminal_id), purse.when_bytes(when)).hex())
            assert reader.load_proof(x.online_counter, 1) == tac
            loads.append((time.perf_counter() - t) * 1000)
    finally:
        reader.close()
    load = statistics.median(loads)
    print(f"card load (4 exchanges) {load:7.1f} ms wall over sim:// (the simulator answers at once)")
    if args.photos:
        ok = 0
        paths = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        for path in paths:
            image = cv2.imread(str(path))
            try:
                page = pg.scan_page(image)
                ok += 1
                print(f"  {path.name:28s} {image.shape[1]}×{image.shape[0]} → readable, skew {page.skew_deg:+.1f}°, "
                      f"sharpness {page.quality.sharpness:.0f}, contrast {page.quality.contrast:.0f}")
            except Exception as exc:  # a photo the pipeline refuses: say why
                print(f"  {path.name:28s} {type(exc).__name__} {getattr(exc, 'problems', '')}")
        print(f"real photos: {ok} of {len(paths)} flattened and readable")
    print(f"services: scan_page {whole:.0f} ms, pdf {len(pdf) / len(pages) / 1024:.0f} KiB/page, "
          f"card load {load:.0f} ms, corner error {err:.1f} px")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
