"""Height-weight station (身高体重测量仪): codec, driver and simulator of its serial output."""
