"""Voice prompts: each step's instruction is spoken, never personal data, never blocking.

What is spoken comes only from catalog *templates* with their `{parameters}` removed
(`speech_text`): parameters are where a flow puts names, numbers and results, so
nothing a citizen typed or a device read can reach the loudspeaker (someone else may be
standing in the queue). A new utterance stops the previous one; mute stops at once.

`EspeakSpeaker` (default) runs espeak-ng as a child process (voice `cmn` for Chinese,
`en-gb` for English) and returns immediately; `NullSpeaker` is for headless runs,
`RecordingSpeaker` for tests.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from typing import Protocol

log = logging.getLogger(__name__)

VOICES = {"zh": "cmn", "en": "en-gb"}
_FIELD = re.compile(r"\{[^{}]*\}")


def speech_text(template: str) -> str:
    """A catalog template made safe to speak: every `{param}` dropped."""
    text = _FIELD.sub("", template)
    return re.sub(r"\s{2,}", " ", text).strip()


class Speaker(Protocol):
    muted: bool

    def say(self, text: str, lang: str) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


class NullSpeaker:
    def __init__(self) -> None:
        self.muted = False

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


class EspeakSpeaker:
    """espeak-ng in a child process; `say` returns at once, a new text cuts off the old one."""

    def __init__(self, executable: str | None = None, rate_wpm: int = 150, elderly_rate_wpm: int = 120):
        self.executable = executable or shutil.which("espeak-ng")
        self.rate_wpm = rate_wpm
        self.elderly_rate_wpm = elderly_rate_wpm
        self.elderly = False
        self.muted = False
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
                    [self.executable, "-v", VOICES.get(lang, "cmn"), "-s", str(rate), "--", text],
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
