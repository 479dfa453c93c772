"""The speakers tab: a speaker test per side and the level calibration of each speaker.

Speaker test: the hearing test's own tone (HEARING_TEST_RULE: 512 Hz at 60 dB SPL, with
the stored calibration) on the left or the right; staff listen that it comes from that
side only. Calibration (peripherals/audio/calibration.py): play the 1 kHz reference on
one side, hold a sound level meter at the marked standing spot, type the dB SPL it reads,
save. The hearing test then plays its level from that figure.
"""

from __future__ import annotations

from kiosk import theme
from kiosk.diagnostics.actions import StaffAction
from kiosk.diagnostics.widgets import BAD_MARK, OK_MARK, button, button_row, line
from kiosk.widgets.keypad import EntryBox, NumericKeypad

SIDES = ("left", "right")


class AudioPanel:
    """A tab of `DiagnosticsScreen` (a mixin: it uses the screen's diag, tr, s and render)."""

    audio_state = None  # (text maker, bad: bool | None running)
    audio_side = "left"

    def _build_audio(self, column) -> None:
        from peripherals.audio.errors import AudioUnavailable

        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.tab.audio")))
        player = self.diag.audio_player()
        try:
            player.open()
            column.add_widget(line(tr("diag.audio.output", name=player.output.describe()), s.body,
                                   kid="diag.audio.output"))
        except AudioUnavailable as exc:
            column.add_widget(line(f"{BAD_MARK} " + tr("diag.audio.unavailable", detail=str(exc)), s.body, bold=True,
                                   colour=theme.DANGER, kid="diag.audio.output"))
            return
        cal = player.calibration
        for side in SIDES:
            c = cal.channel(side)
            key = "diag.audio.calibrated" if c.calibrated_at else "diag.audio.not_calibrated"
            when = c.calibrated_at.astimezone().strftime("%Y-%m-%d %H:%M") if c.calibrated_at else ""
            column.add_widget(line(tr(key, side=tr(f"hearing.{side}"), spl=f"{c.spl_at_reference:g}", when=when),
                                   s.body, kid=f"diag.audio.cal.{side}"))
        if self.audio_state is not None:
            make, bad = self.audio_state
            column.add_widget(line(make(), s.body, bold=True, colour=theme.DANGER if bad else theme.TEXT,
                                   kid="diag.audio.result"))
        busy = self.audio_state is not None and self.audio_state[1] is None
        column.add_widget(line(tr("diag.audio.test_intro"), s.body))
        column.add_widget(button_row([
            button(f"diag.audio.test.{side}", tr(f"diag.audio.test.{side}"), lambda sd=side: self.speaker_test(sd),
                   size=s.button_text, height=s.target, disabled=busy) for side in SIDES],
            height=s.target, spacing=s.px(16)))
        column.add_widget(self.heading_line(tr("diag.audio.cal_heading")))
        column.add_widget(line(tr("diag.audio.cal_intro"), s.body))
        column.add_widget(button_row([
            button(f"diag.audio.side.{side}", tr(f"hearing.{side}"), lambda sd=side: self._pick_side(sd),
                   size=s.button_text, height=s.target, style="selected" if side == self.audio_side else "secondary")
            for side in SIDES], height=s.target, spacing=s.px(16)))
        column.add_widget(button("diag.audio.reference", tr("diag.audio.reference"), self.play_reference,
                                 size=s.button_text, height=s.target, disabled=busy))
        self.audio_entry = EntryBox(tr("diag.audio.measured_hint"), s.body)
        column.add_widget(self.audio_entry)
        self.audio_keypad = NumericKeypad(labels={"delete": tr("ui.keypad.delete")}, decimal=True, max_length=5,
                                          on_change=lambda v: setattr(self.audio_entry, "value_text", v),
                                          key_height=s.px(104), font_size=s.px(48))
        column.add_widget(self.audio_keypad)
        column.add_widget(button("diag.audio.save", tr("diag.audio.save"), self.save_audio_calibration,
                                 size=s.button_text, height=s.primary_target, style="primary", primary=True))

    def _pick_side(self, side: str) -> None:
        self.audio_side = side
        self.refresh()

    def _play(self, work, describe, action: StaffAction, side: str) -> None:
        self.audio_state = (lambda: self.tr("diag.audio.playing"), None)

        def done(played, error) -> None:
            if error is not None:
                code = getattr(error, "code", type(error).__name__)
                self.audio_state = (lambda: f"{BAD_MARK} " + self.tr("diag.audio.failed", detail=code), True)
                outcome = f"failed:{code}"
            else:
                self.audio_state = (lambda: f"{OK_MARK} " + describe(played), False)
                outcome = "played"
            self.diag.actions.record(action, outcome=outcome, detail=side)
            if self.tab == "audio":
                self.refresh()

        self.diag.run(work, done)
        self.refresh()

    def speaker_test(self, side: str) -> None:
        from flows.medical_rules import HEARING_TEST_RULE as r

        player = self.diag.audio_player()
        self._play(lambda: player.play_tone(side, r.frequency_hz, r.level_db_spl, r.tone_s),
                   lambda p: self.tr("diag.audio.played", side=self.tr(f"hearing.{side}"), hz=f"{p.frequency_hz:g}",
                                     spl=f"{p.db_spl:g}", dbfs=f"{p.level_dbfs:.1f}"),
                   StaffAction.SPEAKER_TEST, side)

    def play_reference(self) -> None:
        side, player = self.audio_side, self.diag.audio_player()
        self._play(lambda: player.play_reference(side, 5.0),
                   lambda p: self.tr("diag.audio.reference_played", side=self.tr(f"hearing.{side}"),
                                     dbfs=f"{p.level_dbfs:g}"),
                   StaffAction.SPEAKER_TEST, side)

    def save_audio_calibration(self) -> None:
        from peripherals.audio import calibration

        side, player = self.audio_side, self.diag.audio_player()
        try:
            measured = float(self.audio_keypad.value)
            if not 20 <= measured <= 130:
                raise ValueError
        except ValueError:
            self.audio_state = (lambda: f"{BAD_MARK} " + self.tr("diag.audio.bad_value"), True)
            self.refresh()
            return
        player.calibration = player.calibration.record(side, measured)
        calibration.save(self.diag.audio_calibration_file, player.calibration)
        self.diag.actions.record(StaffAction.AUDIO_CALIBRATION, outcome="saved", detail=f"{side}:{measured:g}")
        self.audio_state = (lambda: f"{OK_MARK} " + self.tr("diag.audio.saved", side=self.tr(f"hearing.{side}"),
                                                             spl=f"{measured:g}"), False)
        self.refresh()
