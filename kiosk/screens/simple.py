"""Screens for the views with little interaction: prompt, busy, measuring, help, result, error, idle warning."""

from __future__ import annotations

from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout

from flows.views import Action, Busy, Error, Help, IdleWarning, Measuring, Prompt, Result, ViewKind
from kiosk import theme
from kiosk.screens.base import FlowScreen
from kiosk.widgets.base import Column, Panel, Text
from kiosk.widgets.fit import flex
from kiosk.widgets.buttons import BigButton
from kiosk.widgets.illustration import Illustration
from kiosk.widgets.progress import MeterBar


def picture(key: str | None, size: float) -> BoxLayout:
    box = BoxLayout(size_hint_y=None, height=size)
    box.add_widget(Illustration(key=key or ""))
    return box


# A picture for a message whose view names none, by the message key's topic.
TOPIC_PICTURES = (("resume.place_id_card", "idcard"), ("idcard.", "idcard"), ("hearing.", "hearing"),
                  ("bp.", "bp"), ("vision.", "eye"), ("photo.", "camera"), ("face.", "camera"),
                  ("payment.", "qr"), ("print.", "printer"), ("mail.", "printer"),
                  ("height.", "height"))


def topic_picture(key: str) -> str | None:
    return next((pic for prefix, pic in TOPIC_PICTURES if key.startswith(prefix)), None)


class Sweep:
    """An indeterminate progress bar that moves: the kiosk is working, it has not frozen."""

    _event = None
    _bar = None

    def start_sweep(self, bar) -> None:
        self.stop_sweep()
        self._bar = bar
        self._event = Clock.schedule_interval(self._tick, 0.25)

    def _tick(self, _dt):
        if self._bar is not None:
            self._bar.value = (self._bar.value + 0.08) % 1.0

    def stop_sweep(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None


class PromptScreen(FlowScreen, Sweep):
    kind = ViewKind.PROMPT.value

    def build_body(self, column: Column) -> None:
        view: Prompt = self.view  # type: ignore[assignment]
        pic = view.illustration or topic_picture(view.message.key)
        if pic:
            column.add_widget(self.picture(pic, self.s.px(420 if view.illustration else 300)))
        for w in self.message_block(self.tr.msg(view.message)):
            column.add_widget(w)
        self.stop_sweep()
        if not view.awaits_answer:
            column.add_widget(self.body_text(self.tr("ui.waiting_device"), muted=True))
            bar = MeterBar(size_hint_y=None, height=self.s.px(28))
            column.add_widget(bar)
            self.start_sweep(bar)

    def stop_timers(self) -> None:
        self.stop_sweep()

    def actions(self):
        if self.view is not None and self.view.awaits_answer:
            return [self.primary_button("prompt.continue", self.tr("ui.continue"), lambda: self.answer(None))]
        return []

    def speech_key(self):
        return self.view.message.key  # type: ignore[union-attr]


class BusyScreen(FlowScreen, Sweep):
    kind = ViewKind.BUSY.value

    def build_body(self, column: Column) -> None:
        view: Busy = self.view  # type: ignore[assignment]
        pic = topic_picture(view.message.key)
        if pic:
            column.add_widget(self.picture(pic, self.s.px(300)))
        self.message = self.heading(self.tr.msg(view.message))
        column.add_widget(self.message)
        column.add_widget(self.body_text(self.tr("ui.busy.hint"), muted=True))
        self.bar = MeterBar(size_hint_y=None, height=self.s.px(28))
        column.add_widget(self.bar)
        self.start_sweep(self.bar)

    def stop_timers(self) -> None:
        self.stop_sweep()

    def footer_buttons(self):
        return [b for b in super().footer_buttons() if b[0] != "nav.back"]

    def speech_key(self):
        return self.view.message.key  # type: ignore[union-attr]


class MeasuringScreen(FlowScreen, Sweep):
    """A device at work: the instruction, how to sit/hold, live progress; the QR code for payment."""

    kind = ViewKind.MEASURING.value

    def build_body(self, column: Column) -> None:
        view: Measuring = self.view  # type: ignore[assignment]
        s, tr = self.s, self.tr
        self.stop_sweep()
        qr = view.instruction.params.get("qr") if view.device == "payment" else None
        if qr:
            from kiosk.images import image_from_png, qr_png

            code = flex(image_from_png(qr_png(str(qr)), s.px(560)), s.px(380 if not s.landscape else 300), s.px(640))
            code.is_picture = True
            column.add_widget(code)
        elif view.pictogram or view.device:
            column.add_widget(self.picture(view.pictogram or view.device, s.px(340), lo=0 if s.elderly else None))
        heading = self.heading(tr.msg(view.instruction))
        if s.elderly:  # long instructions and a card of steps: the heading grows less than the text
            heading.font_size = s.capped(54, 1.1)
        if qr:
            heading.halign = "center"
        column.add_widget(heading)
        if view.detail is not None:  # e.g. "action 1 of 2" under a liveness prompt
            column.add_widget(self.body_text(tr.msg(view.detail), muted=True))
        hint_key = f"measure.hint.{view.device}" if view.device else ""
        if hint_key and tr.has(hint_key):
            card = Panel(orientation="vertical", bg=list(theme.SURFACE), border=list(theme.DIVIDER),
                         size_hint_y=None, padding=s.px(32))
            hint = self.body_text(tr(hint_key))
            hint.line_height = 1.3  # MIIT: line spacing ≥ 1.3
            if s.landscape or s.elderly:  # the steps a little smaller, still larger than normal text
                hint.font_size = s.capped(44, 1.1)
            card.add_widget(hint)
            hint.bind(height=lambda w, h: setattr(card, "height", h + 2 * s.px(32)))
            card.height = hint.height + 2 * s.px(32)
            self.add_control(card)  # landscape: how to sit/hold and the progress on the right
        self.bar = MeterBar(value=view.progress_fraction, size_hint_y=None, height=s.px(40))
        self.add_control(self.bar)
        self.percent = self.body_text("")
        self.percent.halign = "center"
        self.add_control(self.percent)
        if qr:
            self.percent.text = tr("ui.payment.waiting")
            self.start_sweep(self.bar)
        else:
            keep_key = f"ui.measuring.keep_still.{view.device}"  # a device may ask for movement instead
            keep = self.body_text(tr(keep_key if tr.has(keep_key) else "ui.measuring.keep_still"), muted=True)
            keep.font_size = s.capped(44, 1.1) if s.landscape or s.elderly else keep.font_size
            self.add_control(keep)
            self._show_progress(view)

    def _show_progress(self, view: Measuring) -> None:
        if view.progress_fraction > 0:
            self.stop_sweep()
            self.bar.value = view.progress_fraction
            self.percent.text = self.tr("ui.measuring.percent", percent=round(view.progress_fraction * 100))
        else:  # no progress reported (yet): the bar sweeps instead of sitting at 0 %
            self.percent.text = self.tr("ui.waiting_device")
            if self._event is None:
                self.start_sweep(self.bar)

    def update(self, view: Measuring) -> bool:
        """Progress of the same measurement: update in place (no rebuild, no flicker, no re-speech)."""
        old = self.view
        if not isinstance(old, Measuring) or (old.instruction, old.device, old.detail, old.pictogram) != (
                view.instruction, view.device, view.detail, view.pictogram):
            return False
        self.view = view
        self._show_progress(view)
        return True

    def stop_timers(self) -> None:
        self.stop_sweep()

    def footer_buttons(self):
        return [b for b in super().footer_buttons() if b[0] != "nav.back"]

    def speech_key(self):
        return self.view.instruction.key  # type: ignore[union-attr]


class HelpScreen(FlowScreen):
    kind = ViewKind.HELP.value

    def build_body(self, column: Column) -> None:
        view: Help = self.view  # type: ignore[assignment]
        column.add_widget(self.picture("help", self.s.px(220)))
        column.add_widget(self.heading(self.tr("ui.help_title")))
        column.add_widget(self.body_text(self.tr.msg(view.topic)))
        column.add_widget(self.body_text(self.tr("ui.help_staff"), muted=True))

    def actions(self):
        return [self.primary_button("help.return", self.tr("ui.help_return"), lambda: self.answer(None))]

    def footer_buttons(self):
        return [("nav.cancel", self.tr("ui.cancel"), "danger", self.ask_cancel)]

    def speech_key(self):
        return self.view.topic.key  # type: ignore[union-attr]


class ResultScreen(FlowScreen):
    """The end of an errand (done or cancelled)."""

    kind = ViewKind.RESULT.value

    def build_body(self, column: Column) -> None:
        view: Result = self.view  # type: ignore[assignment]
        tr, s = self.tr, self.s
        cancelled = view.message.key == "result.cancelled"
        column.add_widget(self.picture("cancelled" if cancelled else "success", s.px(260)))
        column.add_widget(self.heading(tr("ui.result.cancelled" if cancelled else "ui.result.success")))
        column.add_widget(self.body_text(tr.msg(view.message)))
        if view.details:
            card = Column(spacing=s.px(12), padding=(0, s.px(8)))
            for d in view.details:
                card.add_widget(self.body_text(tr.msg(d)))
            column.add_widget(card)
        if not cancelled:
            column.add_widget(self.body_text(tr("ui.result.take_items"), muted=True))

    def actions(self):
        if self.view is not None and self.view.final:
            return [self.primary_button("result.done", self.tr("ui.done"), self.app.end_session)]
        return [self.primary_button("result.continue", self.tr("ui.continue"), lambda: self.answer(None))]

    def footer_buttons(self):
        if self.view is not None and self.view.final:
            return [("nav.help", self.tr("ui.help"), "secondary", self.static_help)]
        return super().footer_buttons()

    def speech_key(self):
        return self.view.message.key  # type: ignore[union-attr]


class ErrorScreen(FlowScreen):
    """What happened, what to do next, and a code staff can look up."""

    kind = ViewKind.ERROR.value

    def build_body(self, column: Column) -> None:
        view: Error = self.view  # type: ignore[assignment]
        tr, s = self.tr, self.s
        column.add_widget(self.picture("error", s.px(220)))
        column.add_widget(self.heading(tr.msg(view.what)))
        column.add_widget(self.body_text(tr.msg(view.next)))
        code = view.code
        if code and code not in ("cancelled", "idle_timeout", "consent_declined", "not_eligible"):
            detail = tr(f"code.{code}") if tr.has(f"code.{code}") else ""
            text = tr("ui.error.code", code=code) + (f"（{detail}）" if detail and self.app.lang == "zh" else
                                                       f" ({detail})" if detail else "")
            column.add_widget(self.body_text(text, muted=True))

    def actions(self):
        view: Error = self.view  # type: ignore[assignment]
        if view.awaits_answer and view.options:
            return [self.primary_button(f"option.{o.key}", self.tr.msg(o.label), lambda k=o.key: self.answer(k),
                                        style="primary" if i == 0 else "secondary")
                    for i, o in enumerate(view.options)]
        if view.final:
            return [self.primary_button("result.done", self.tr("ui.home"), self.app.end_session)]
        return []

    def footer_buttons(self):
        if self.view is not None and self.view.final:
            return [("nav.help", self.tr("ui.help"), "secondary", self.static_help)]
        return super().footer_buttons()

    def speech_key(self):
        return self.view.what.key  # type: ignore[union-attr]


class IdleWarningScreen(FlowScreen):
    """WCAG 2.2.1: a visible countdown and a big "I need more time" (≥ 20 s, ≥ 10 times)."""

    kind = ViewKind.IDLE_WARNING.value
    _event = None

    def build_body(self, column: Column) -> None:
        view: IdleWarning = self.view  # type: ignore[assignment]
        tr, s = self.tr, self.s
        column.add_widget(self.picture("idle", s.px(240)))
        column.add_widget(self.heading(tr("ui.idle.title")))
        column.add_widget(self.body_text(tr.msg(view.message)))
        self.remaining = float(view.timeout_s if view.timeout_s is not None else view.seconds)
        self.countdown = Text(text="", font_size=s.capped(96 if not s.landscape else 80), bold=True,
                              color=theme.DANGER, halign="center")
        self.countdown.stays_left = True  # landscape: the seconds under the heading
        column.add_widget(self.countdown)
        left = tr("ui.idle.extensions_left", n=view.extensions_left) if view.can_extend else tr("ui.idle.no_more")
        column.add_widget(self.body_text(left, muted=True))
        column.add_widget(self.body_text(tr("ui.idle.explain"), muted=True))
        self._show()
        self.stop_timers()
        self._event = Clock.schedule_interval(self._tick, 1.0)

    def _show(self):
        self.countdown.text = self.tr("ui.idle.countdown", seconds=max(0, int(round(self.remaining))))

    def _tick(self, dt):
        self.remaining = max(0.0, self.remaining - dt)
        self._show()

    def stop_timers(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def actions(self):
        view: IdleWarning = self.view  # type: ignore[assignment]
        out = []
        if view.can_extend:
            out.append(self.primary_button("idle.more_time", self.tr("ui.idle.more_time"),
                                           lambda: self.send(Action.more_time())))
        return out

    def footer_buttons(self):
        return [("nav.cancel", self.tr("ui.idle.end"), "danger", lambda: self.send(Action.cancel())),
                ("nav.help", self.tr("ui.help"), "secondary", lambda: self.send(Action.more_time()))]

    def speech_key(self):
        return "ui.idle.title"
