"""Voice prompts: each step's instruction is spoken, never personal data, never blocking.

What is spoken comes only from catalog *templates* with their `{parameters}` removed
(`speech_text`): parameters are where a flow puts names, numbers and results, so
nothing a citizen typed or a device read can reach the loudspeaker (someone else may be
standing in the queue). A new utterance stops the previous one; mute stops at once.

`EspeakSpeaker` (default) runs espeak-ng as a child process (voice `cmn` for Chinese,
`en-gb` for English) and returns immediately; `NullSpeaker` is for headless runs,
`RecordingSpeaker` for tests, `FileSpeaker` writes every utterance (text, language, rate,
volume) as a JSON line, alone or beside another speaker, so a test or an auditor can check
what was said.

Every speaker has the same settings: `muted`, `elderly` (slower speech), `volume` (0.2–1.0,
the audio guide's volume keys; reset to `DEFAULT_VOLUME` at the end of each session, as
Section 508 402.3.2 asks).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

VOICES = {"zh": "cmn", "en": "en-gb"}
RATE_WPM = 150  # espeak-ng words per minute
ELDERLY_RATE_WPM = 115  # slower speech in elderly mode
DEFAULT_VOLUME = 0.6  # of espeak-ng's amplitude range (200 = 1.0): room to go up for the hard of hearing
MIN_VOLUME, MAX_VOLUME = 0.2, 1.0
_FIELD = re.compile(r"\{[^{}]*\}")


def speech_text(template: str) -> str:
    """A catalog template made safe to speak: every `{param}` dropped."""
    text = _FIELD.sub("", template)
    return re.sub(r"\s{2,}", " ", text).strip()


class Speaker(Protocol):
    muted: bool
    elderly: bool
    volume: float

    def say(self, text: str, lang: str) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


def rate_of(speaker) -> int:
    return ELDERLY_RATE_WPM if getattr(speaker, "elderly", False) else RATE_WPM


class NullSpeaker:
    def __init__(self) -> None:
        self.muted = False
        self.elderly = False
        self.volume = DEFAULT_VOLUME

    def say(self, text: str, lang: str) -> None:
        pass

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


class RecordingSpeaker(NullSpeaker):
    """Remembers what would have been spoken (tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.spoken: list[tuple[str, str]] = []

    def say(self, text: str, lang: str) -> None:
        if not self.muted and text:
            self.spoken.append((lang, text))


class FileSpeaker(NullSpeaker):
    """Every utterance as a JSON line in `path` ({"lang", "text", "rate_wpm", "volume"}), and also
    through `also` (e.g. espeak-ng) when given: the sink a test reads to check what was said."""

    def __init__(self, path: Path, also: "Speaker | None" = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.also = also
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")

    def say(self, text: str, lang: str) -> None:
        if self.also is not None:
            self.also.muted, self.also.elderly, self.also.volume = self.muted, self.elderly, self.volume
            self.also.say(text, lang)
        if self.muted or not text:
            return
        line = json.dumps({"lang": lang, "text": text, "rate_wpm": rate_of(self), "volume": round(self.volume, 2)},
                          ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def stop(self) -> None:
        if self.also is not None:
            self.also.stop()

    def close(self) -> None:
        if self.also is not None:
            self.also.close()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]


class EspeakSpeaker:
    """espeak-ng in a child process; `say` returns at once, a new text cuts off the old one."""

    def __init__(self, executable: str | None = None, rate_wpm: int = RATE_WPM,
                 elderly_rate_wpm: int = ELDERLY_RATE_WPM):
        self.executable = executable or shutil.which("espeak-ng")
        self.rate_wpm = rate_wpm
        self.elderly_rate_wpm = elderly_rate_wpm
        self.elderly = False
        self.muted = False
        self.volume = DEFAULT_VOLUME
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        if self.executable is None:
            log.warning("espeak-ng not found: voice prompts are off (apt-get install espeak-ng)")

    def say(self, text: str, lang: str) -> None:
        self.stop()
        if self.muted or not text or self.executable is None:
            return
        rate = self.elderly_rate_wpm if self.elderly else self.rate_wpm
        try:
            with self._lock:
                self._proc = subprocess.Popen(
                    [self.executable, "-v", VOICES.get(lang, "cmn"), "-s", str(rate),
                     "-a", str(round(200 * self.volume)), "--", text],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
        except OSError as exc:
            log.warning("espeak-ng failed to start: %s", type(exc).__name__)

    def stop(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            threading.Thread(target=proc.wait, daemon=True).start()  # reap without blocking the UI

    def close(self) -> None:
        self.stop()
