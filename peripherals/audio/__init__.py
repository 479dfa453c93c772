"""Audio output for the hearing test: calibrated tones (`tones`), where they go (`outputs`),
the per-channel level calibration (`calibration`) and the player tying them together (`player`)."""
