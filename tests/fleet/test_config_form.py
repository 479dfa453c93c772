"""The configuration form is generated from KioskSettings' JSON schema and validated by the
model itself: every setting appears with its limits and choices, typed text comes back as
typed values, the model's messages land on their fields, and the diff and history say what
each push changed and who pushed it."""

from __future__ import annotations

from fleet.protocol import KioskSettings
from fleet.server import audit, config_form
from fleet.server.db import Database


def test_every_setting_of_the_model_becomes_a_field_with_its_limits():
    fields = {f.name: f for f in config_form.form_fields()}
    assert list(fields) == list(KioskSettings.model_fields)
    assert (fields["volume"].kind, fields["volume"].minimum, fields["volume"].maximum) == ("integer", 0, 100)
    assert fields["heartbeat_interval_s"].kind == "number" and fields["heartbeat_interval_s"].limits == "1–3600"
    assert fields["language"].choices == ["zh-CN", "en"] and fields["log_level"].kind == "select"
    assert fields["receipt_footer"].max_length == 200 and fields["enabled_flows"].kind == "list"
    assert fields["idle_timeout_s"].title == "Idle timeout (s)" and "wiped" in fields["idle_timeout_s"].description


def test_typed_values_model_messages_per_field_and_the_model_wide_rule():
    fields = config_form.form_fields()
    form = {config_form.PREFIX + f.name: f.display(v) for f in fields
            for v in [KioskSettings().model_dump(mode="json")[f.name]]}
    form.update({"f.volume": "abc", "f.brightness": "5", "f.enabled_flows": "licence-renewal, tax-invoice,"})
    values, typed = config_form.read_form(form, fields)
    assert typed == {"volume": "enter a whole number"} and values["enabled_flows"] == ["licence-renewal", "tax-invoice"]
    settings, errors, overall = config_form.check({**values, "volume": 50, "idle_warning_s": 100.0})
    assert settings is None and "greater than or equal to 10" in errors["brightness"]
    settings, errors, overall = config_form.check({**values, "volume": 50, "brightness": 70, "idle_warning_s": 100.0})
    assert settings is None and errors == {} and overall == ["idle_warning_s must be shorter than idle_timeout_s"]
    settings, errors, overall = config_form.check({**values, "volume": 50, "brightness": 70})
    assert errors == {} and overall == [] and settings["volume"] == 50


def test_diff_against_the_defaults_and_the_history_of_pushes(tmp_path):
    changes = config_form.diff(None, {**KioskSettings().model_dump(mode="json"), "volume": 20})
    assert [(c.name, c.old, c.new) for c in changes] == [("volume", 60, 20)]
    db = Database(f"sqlite:///{tmp_path / 'fleet.db'}")
    first = {**KioskSettings().model_dump(mode="json"), "volume": 20}
    with db.session() as session:
        audit.record(session, "alice", "config", "k-1", detail={"version": 1, "settings": first})
        audit.record(session, "bob", "config", "k-1", detail={"version": 2, "settings": {**first, "language": "en"}})
        audit.record(session, "bob", "config", "k-2", detail={"version": 1, "settings": first})
    with db.session() as session:
        pushes = config_form.history(session, "k-1")
    assert [(p.operator, p.version) for p in pushes] == [("bob", 2), ("alice", 1)]
    assert [(c.name, c.old, c.new) for c in pushes[0].changes] == [("language", "zh-CN", "en")]
    assert [(c.name, c.new) for c in pushes[1].changes] == [("volume", 20)]
    db.close()
