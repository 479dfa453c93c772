"""A foreign permanent resident's English name on the screens that show the holder's name, zh and en.

The two views are the ones the tax-invoice flow shows a foreign holder (tests/flows/
test_flow_foreign_card.py checks that the flow puts the English name into exactly these): the
review, whose buyer is the holder, and the mailing-address form, prefilled with the holder's
name. Each is rendered by the real app in Chinese and English, normal and elderly: the name is on
screen, in full, and the page still fits (tests/ui/layout_check.py).
"""

from __future__ import annotations

import pytest

from flows.common_steps import ADDRESS_FIELDS
from flows.views import Choice, ChoiceOption, Form, msg

from .layout_check import check_layout

ENGLISH = "MUELLER-SCHMIDT, ANNA MARIA KATHARINA"  # the simulated 2023 card's holder (37 characters)
REVIEW = Choice(message=msg("tax.review", buyer=ENGLISH, item="房屋租赁服务", amount="¥100.00", rate=3),
                options=(ChoiceOption(key="issue", label=msg("tax.issue")),
                         ChoiceOption(key="edit", label=msg("button.edit"))),
                awaits_answer=True, step="review", flow="tax-invoice")
ADDRESS = Form(message=msg("address.enter"), fields=ADDRESS_FIELDS, values={"recipient_name": ENGLISH},
               awaits_answer=True, step="address", flow="tax-invoice")


def _texts(screen) -> list[str]:
    from kiosk.autopilot import walk

    # a label wraps long lines with a newline: compare the text as one line
    return [" ".join(w.text.split()) for w in walk(screen) if isinstance(getattr(w, "text", None), str)]


@pytest.mark.parametrize("lang, elderly", [("zh", False), ("en", False), ("zh", True)])
def test_english_name_shown_where_the_holder_name_is(kivy_ui, lang, elderly):
    from kivy.core.window import Window

    from kiosk.app import KioskOptions, create_app

    app = kivy_ui.start(create_app(KioskOptions(lang=lang, elderly=elderly, voice=False), []))
    problems: list[str] = []
    for view, label in ((REVIEW, "购买方：" if lang == "zh" else "Buyer: "), (ADDRESS, None)):
        app.show_view(view)
        kivy_ui.frames(4)
        texts = _texts(app.sm.current_screen)
        assert any(ENGLISH in t for t in texts), f"{view.step} ({lang}) does not show the English name: {texts}"
        if label:
            assert any(label + ENGLISH in t for t in texts), f"no {label!r} line with the name"
        problems += check_layout(app.sm.current_screen, tuple(Window.size), 90 if elderly else 60)
    assert not problems, "\n".join(problems)
