"""The autopilot on the keypad: the same answers as kiosk.autopilot, given with key presses only.

A citizen who cannot see moves the focus with the arrow keys until the guide (kiosk/guide.py) says
the wanted answer, then presses Enter; digits and letters are typed on the keys; Back and Help have
their own keys. `KeyPerformer` does exactly that, through the window's key events as SDL delivers
them, and checks at each button that the guide said its label before selecting it. It never
touches the screen.
"""

from __future__ import annotations

from kiosk.autopilot import Performer, TapFailed
from kiosk.guide import _is_char_key
from kiosk.keys import CODE_FOR, Command, code_for_char


class KeyPerformer(Performer):
    max_moves = 120  # arrow presses to reach one button

    def key(self, code: int, frames: int = 1) -> None:
        from kivy.core.window import Window

        Window.dispatch("on_key_down", code, 0, None, [])
        Window.dispatch("on_key_up", code, 0)
        self.frames(frames)

    def command(self, cmd: Command) -> None:
        self.key(CODE_FOR[cmd])

    def _settled(self) -> None:
        """Wait for the guide's reading of a new screen (it waits for the layout) before moving."""
        guide = self.app.guide
        if not guide.on:
            self.command(Command.REPEAT)  # any key switches the guide on
        for _ in range(60):
            if not guide.reading_pending:
                return
            self.frames(1)

    def tap(self, kiosk_id: str) -> None:
        self._settled()
        if kiosk_id == "nav.back":
            self.command(Command.BACK)
        elif kiosk_id == "nav.help":
            self.command(Command.HELP)
        else:
            super().tap(kiosk_id)

    def press(self, widget) -> None:
        self._settled()
        kid = widget.kiosk_id
        ch = kid.rsplit(".", 1)[-1]
        if _is_char_key(kid) and len(ch) == 1 and ch.isascii() and ch.isalnum():
            self.key(code_for_char(ch))
            return
        guide = self.app.guide
        ids = [w.kiosk_id for w in guide.focusables()]
        if kid not in ids:
            raise TapFailed(f"{kid!r} is not among the {self.screen.name} screen's focusable buttons")
        here = ids.index(guide.focus_id) if guide.focus_id in ids else -1
        there = ids.index(kid)
        # the shorter way round (the ring wraps), as a citizen who knows the page would go
        down = (there - here) % len(ids)
        cmd = Command.NEXT if here < 0 or down <= len(ids) - down else Command.PREVIOUS
        for _ in range(self.max_moves):
            if guide.focus_id == kid:
                break
            self.key(CODE_FOR[cmd], frames=0)  # the guide answers each key at once; no frame needed between
        else:
            raise TapFailed(f"the arrow keys never reached {kid!r} on the {self.screen.name} screen")
        focused = guide.focused()
        if focused is None or not guide.said or guide.said[-1] != guide.describe(focused):
            raise TapFailed(f"the guide did not say the focused button {kid!r}")
        self.frames(1)  # the focus ring is drawn before Enter
        self.command(Command.SELECT)
