"""A foreign permanent resident (2023 card) gets a tax invoice: the flows use the card's English name.

The real face engine compares the live citizen with the card holder's portrait through the back
office's identity service, which knows the holder by the English name (what the card carries
first); the review shows the English name as the buyer, the address form is prefilled with it,
and the invoice is issued to it (printed masked). Nothing of it reaches the logs, even at DEBUG. The simulated resident card still matches its
own portrait (tests/flows/test_flow_face.py).
"""

from __future__ import annotations

import logging

import pytest

from backoffice.testing import submissions
from flows.engine import OutcomeStatus
from flows.views import ViewKind
from peripherals.idcard.sim import scripted_card

from .flow_support import FAST_FACE, FAST_PAYMENT, example_answers, run_and_assert_wiped

CARD = scripted_card("foreign_y")
ENGLISH = "MUELLER-SCHMIDT, ANNA MARIA KATHARINA"
ADDRESS = {"recipient_name": ENGLISH, "phone": "13912345678", "province": "广东省", "city": "广州市", "district": "天河区", "street": "天河路208号"}


@pytest.mark.timeout(90)
def test_foreign_holder_gets_an_invoice_in_the_english_name(backoffice, tmp_path, caplog):
    spec = example_answers("tax-invoice-foreign", settings={**FAST_PAYMENT, **FAST_FACE},
                           answers={"delivery": "mail", "address": ADDRESS})  # examples/answers/tax-invoice-foreign.yaml
    assert spec.sim["idcard"] == {"card": "foreign_y"} and spec.sim["camera"] == {"source": "citizen:foreign"}
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            r = run_and_assert_wiped("tax-invoice", spec, backoffice.url, tmp_path / "s", real_face=True)
    finally:
        root.setLevel(previous)
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    assert r.outcome.outcome["real_name_method"] == "face"  # the identity service matched the English name
    review = next(v for v in r.result.views if v.step == "review" and v.awaits_answer)
    assert review.message.params["buyer"] == ENGLISH
    form = next(v for v in r.result.views if v.kind is ViewKind.FORM and v.step == "address")
    assert form.values["recipient_name"] == ENGLISH  # the address form starts with the holder's name
    assert [s["kind"] for s in submissions(backoffice.url)] == ["tax_invoice", "waybill", "payment_order"]
    printed = "\n".join(t for job in r.deps.sims["printer"].printed for t in job.texts)
    assert ENGLISH not in printed and CARD.id_number not in printed  # buyer and number printed masked only
    logged = "\n".join(f"{rec.name} {rec.getMessage()} {rec.exc_text or ''}" for rec in caplog.records)
    assert len(caplog.records) > 20  # the DEBUG capture worked
    for secret in (ENGLISH, "MUELLER", CARD.id_number, CARD.id_number[-8:], CARD.chinese_name):
        assert secret not in logged, f"{secret!r} in the logs"


def test_the_identity_service_knows_every_simulated_card_by_its_primary_name():
    """Each simulated card keeps its real portrait; foreign holders are known by the English name."""
    from backoffice.identity import PORTRAITS, holders

    known = holders()
    for kind, stem in (("resident", "resident"), ("hmt", "hmt"), ("foreign_i", "foreign"), ("foreign_y", "foreign")):
        card = scripted_card(kind)
        assert known[card.id_number] == (card.name, stem) and (PORTRAITS / f"{stem}.jpg").is_file()
    assert known[CARD.id_number][0] == ENGLISH
