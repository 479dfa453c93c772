"""What a key on the kiosk's physical keypad (or a keyboard) means: one table, no Kivy.

Section 508 407.3 asks for tactile input controls for every function; a kiosk keypad (an
EZ-Access-style pad or an ATM-style PIN pad) reaches the kiosk as a USB HID keyboard, so it
sends ordinary key codes. Kivy's SDL2 key codes are used here (`Keyboard.keycodes`):

| key (keyboard / keypad)               | command      |
|---------------------------------------|--------------|
| ↓ → , Tab                             | next choice  |
| ↑ ←                                   | previous     |
| Enter, keypad Enter, Space            | select       |
| Esc, F3                               | back         |
| F1, keypad /                          | help         |
| F2, keypad *                          | repeat       |
| Pause, F4                             | pause speech |
| + = , keypad +, Page Up               | volume up    |
| - , keypad -, Page Down               | volume down  |
| Backspace, Delete                     | delete the last typed character |
| 0–9 (and keypad 0–9), a–z             | type that character |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Command(str, Enum):
    NEXT = "next"
    PREVIOUS = "previous"
    SELECT = "select"
    BACK = "back"
    HELP = "help"
    REPEAT = "repeat"
    PAUSE = "pause"
    VOLUME_UP = "volume_up"
    VOLUME_DOWN = "volume_down"
    DELETE = "delete"
    TYPE = "type"  # a character: `KeyPress.char`


@dataclass(frozen=True)
class KeyPress:
    command: Command
    char: str = ""


KEYCODES = {
    274: Command.NEXT, 275: Command.NEXT, 9: Command.NEXT,  # down, right, tab
    273: Command.PREVIOUS, 276: Command.PREVIOUS,  # up, left
    13: Command.SELECT, 271: Command.SELECT, 32: Command.SELECT,  # enter, keypad enter, space
    27: Command.BACK, 284: Command.BACK,  # escape, F3
    282: Command.HELP, 267: Command.HELP,  # F1, keypad /
    283: Command.REPEAT, 268: Command.REPEAT,  # F2, keypad *
    19: Command.PAUSE, 285: Command.PAUSE,  # pause, F4
    43: Command.VOLUME_UP, 61: Command.VOLUME_UP, 270: Command.VOLUME_UP, 280: Command.VOLUME_UP,  # + = kp+ pgup
    45: Command.VOLUME_DOWN, 269: Command.VOLUME_DOWN, 281: Command.VOLUME_DOWN,  # - kp- pgdn
    8: Command.DELETE, 127: Command.DELETE,  # backspace, delete
}

# The key code a driver sends for each command (the first listed above), and for a character.
CODE_FOR = {Command.NEXT: 274, Command.PREVIOUS: 273, Command.SELECT: 13, Command.BACK: 27, Command.HELP: 282,
            Command.REPEAT: 283, Command.PAUSE: 19, Command.VOLUME_UP: 270, Command.VOLUME_DOWN: 269,
            Command.DELETE: 8}


def key_press(key: int) -> KeyPress | None:
    """The command for a Kivy key code, or None for a key the kiosk does not use."""
    if key in KEYCODES:
        return KeyPress(KEYCODES[key])
    if 48 <= key <= 57:
        return KeyPress(Command.TYPE, chr(key))
    if 256 <= key <= 265:  # keypad digits
        return KeyPress(Command.TYPE, str(key - 256))
    if 97 <= key <= 122:
        return KeyPress(Command.TYPE, chr(key))
    return None


def code_for_char(ch: str) -> int:
    ch = ch.lower()
    if len(ch) != 1 or not (ch.isdigit() or "a" <= ch <= "z"):
        raise ValueError(f"no key types {ch!r}")
    return ord(ch)
