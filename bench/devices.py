"""Device-layer figures: codec throughput and the cost of a real ID card read over a pty.

    .venv/bin/python bench/devices.py [--reads 20]

Prints:
- SAM frames split and checked per second, and full read-reply frames decoded to an IdCard
  per second (the 1295-byte frame of a 30 01 read);
- host-side time of one whole ID card read (find → select → read) through the real
  driver over a pseudo-terminal whose simulator delivers bytes at 115200 baud, next to the
  wire time of the bytes exchanged (10 bit times per byte, both directions), and their
  ratio (goal ≤ 1.2: the host adds at most 20 % to what the UART itself costs);
- blood-pressure codec throughput (Accutorr P lines and IEEE 11073 records per second).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable


def per_second(fn: Callable[[], object], min_time: float = 0.5) -> float:
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(100):
            fn()
        n += 100
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return n / elapsed


def bench_sam_codec() -> None:
    from peripherals.idcard import codec
    from peripherals.idcard.sim import scripted_card

    reply = codec.encode_read_reply_frame(scripted_card("resident"))
    small = codec.command_frame(codec.Command.FIND_CARD)
    stream = (small * 50) + reply
    frames_in_stream = len(codec.decode_frames(stream))
    rate = per_second(lambda: codec.decode_frames(stream)) * frames_in_stream
    print(f"SAM frames split+checked:        {rate:12,.0f} frames/s")
    print(f"SAM read replies -> IdCard:      {per_second(lambda: codec.decode_read_reply_frame(reply)):12,.0f} frames/s")


def bench_idcard_read_over_pty(reads: int) -> None:
    from peripherals.idcard.driver import SamIdCardReader
    from peripherals.sim import registry
    from peripherals.sim.host import PtyHost

    baud = 115200
    host = PtyHost(registry.create("idcard"), baudrate=baud)
    try:
        with SamIdCardReader(host.port, baudrate=baud, timeout=1.0) as reader:
            reader.read_card()  # warm up
            times, wires = [], []
            for _ in range(reads):
                rx0, tx0 = len(host.sim.received), host.bytes_sent
                start = time.perf_counter()
                reader.read_card()
                times.append(time.perf_counter() - start)
                exchanged = (len(host.sim.received) - rx0) + (host.bytes_sent - tx0)
                wires.append(exchanged * 10 / baud)
    finally:
        host.stop()
    host_t, wire_t = statistics.median(times), statistics.median(wires)
    print(f"ID card read over pty @{baud}:   host {host_t * 1000:8.1f} ms   wire {wire_t * 1000:8.1f} ms"
          f"   ratio {host_t / wire_t:5.2f}  (median of {reads}; goal <= 1.2)")


def bench_bp_codecs() -> None:
    from peripherals.bp import accutorr_codec, ieee11073_codec

    line = b"P:--,85,120, 45, 80,000,010,000, 5\r\n"  # the Accutorr 3 manual's example
    # flags: kPa? no; timestamp, pulse, user id and status present (Nordic's "full" vector shape)
    record = bytes.fromhex("1e" "7900" "5100" "6a00" "e4070c0f0a1e00" "4800" "01" "0000")
    ieee11073_codec.decode_measurement(record)  # fail loudly here if the vector is wrong
    rate = per_second(lambda: accutorr_codec.parse_patient_line(line))
    print(f"Accutorr P lines parsed:         {rate:12,.0f} lines/s")
    rate = per_second(lambda: ieee11073_codec.decode_measurement(record))
    print(f"IEEE 11073 BPM records decoded:  {rate:12,.0f} records/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=20)
    args = parser.parse_args()
    bench_sam_codec()
    bench_idcard_read_over_pty(args.reads)
    bench_bp_codecs()


if __name__ == "__main__":
    main()
