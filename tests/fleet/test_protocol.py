"""fleet.protocol: topics, message models, versions, MQTT 5 properties, and the rule
that no message carries personal data."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fleet.protocol import (
    CHANNEL_MODEL,
    KIOSK_PUBLISHES,
    KIOSK_SUBSCRIBES,
    RETAINED,
    Channel,
    Command,
    CommandResult,
    ConfigDesired,
    ConfigReported,
    DeviceHealth,
    Event,
    Health,
    Presence,
    UnsupportedVersion,
    UpdateDesired,
    UpdateReported,
    command_outgoing,
    correlation_id,
    decode,
    decode_kiosk_publish,
    kiosk_filter,
    kiosk_topic,
    outgoing,
    parse_kiosk_topic,
    result_outgoing,
    utcnow,
    valid_kiosk_id,
    will_for,
)
from fleet.protocol import messages as fleet_messages

A = "kiosk-a"

SAMPLES = [
    Presence(kiosk_id=A, online=True, session=7, app_version="1.0"),
    Health(kiosk_id=A, devices=[DeviceHealth(kind="printer", state="fault", reason="paper_out",
                                             consumables={"paper": "out"}, model="TM-T20")],
           flows={"renew_licence": {"started": 3, "completed": 2, "aborted": 1}}),
    Event(kiosk_id=A, kind="device_state_changed", device="bp", state="absent", reason="not_present"),
    Command(kiosk_id=A, name="self_test", args={"device": "eye"}),
    CommandResult(kiosk_id=A, id=uuid.uuid4(), status="succeeded", data=b"\x89PNG\x00\xff", data_type="image/png"),
    ConfigDesired(kiosk_id=A, version=3, settings={"volume": 10}),
    ConfigReported(kiosk_id=A, version=3, status="applied", applied_version=3),
    UpdateDesired(kiosk_id=A, version="1.2.0", url="https://fleet.example/a.bundle", sha256="0" * 64, size=10),
    UpdateReported(kiosk_id=A, version="1.2.0", state="refused"),
]


# ---------------------------------------------------------------- topics


def test_topics_and_filters():
    assert kiosk_topic(A, Channel.CMD_REQ) == "kiosk/kiosk-a/cmd/req"
    assert kiosk_filter(Channel.HEALTH) == "kiosk/+/health"
    assert parse_kiosk_topic("kiosk/kiosk-a/config/desired") == (A, Channel.CONFIG_DESIRED)
    for bad in ("kiosk/kiosk-a/other", "fleet/server/status", "kiosk/a+b/status", "kiosk/kiosk-a"):
        with pytest.raises(ValueError):
            parse_kiosk_topic(bad)


@pytest.mark.parametrize("kiosk_id", ["", "a/b", "+", "#", "Kiosk-A", "fleet-server", "-x", "x" * 64, "a b", "粤-1"])
def test_kiosk_ids_that_could_escape_their_topic_level_are_refused(kiosk_id):
    assert not valid_kiosk_id(kiosk_id)
    with pytest.raises(ValueError):
        kiosk_topic(kiosk_id, Channel.STATUS)


def test_directions_partition_the_channels_and_match_the_shipped_acl():
    assert set(KIOSK_PUBLISHES) | set(KIOSK_SUBSCRIBES) == set(Channel)
    assert not set(KIOSK_PUBLISHES) & set(KIOSK_SUBSCRIBES)
    acl = resources.files("fleet.broker").joinpath("acl").read_text()
    patterns = re.findall(r"^pattern (read|write|readwrite) kiosk/%u/(\S+)$", acl, re.M)
    assert {t for a, t in patterns if a == "write"} == {c.value for c in KIOSK_PUBLISHES}
    assert {t for a, t in patterns if a == "read"} == {c.value for c in KIOSK_SUBSCRIBES}
    assert all(a != "readwrite" for a, _ in patterns)


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_through_its_topic(msg):
    out = outgoing(msg)
    kiosk_id, channel, back = decode_kiosk_publish(out.topic, out.payload)
    assert (kiosk_id, CHANNEL_MODEL[channel]) == (A, type(msg))
    assert back == msg
    assert out.qos == 1 and out.retain == (channel in RETAINED)
    assert dict(out.properties.UserProperty)["schema"] == f"{msg.SCHEMA}/1"


def test_unknown_schema_versions_and_foreign_kiosk_bodies_are_rejected():
    out = outgoing(SAMPLES[0])
    with pytest.raises(UnsupportedVersion):
        decode(Presence, out.payload.replace(b'"v":1', b'"v":2'))
    forged = outgoing(Presence(kiosk_id="kiosk-b", online=False, session=1))
    with pytest.raises(ValueError, match="kiosk-b"):
        decode_kiosk_publish(kiosk_topic(A, Channel.STATUS), forged.payload)
    for junk in (b"", b"[]", b"\xff\xfe", b'{"v":1}'):
        with pytest.raises(ValueError):
            decode(Presence, junk)


def test_newer_optional_fields_are_ignored():
    payload = outgoing(SAMPLES[0]).payload.replace(b'"online"', b'"added_later":1,"online"')
    assert decode(Presence, payload).session == 7


def test_device_kinds_and_states_match_the_peripherals_model():
    from peripherals.base import DeviceKind, DeviceState

    assert {k.value for k in DeviceKind} == {k.value for k in fleet_messages.DeviceKind}
    assert {s.value for s in DeviceState} == {s.value for s in fleet_messages.DeviceState}


def test_command_args_are_checked_per_name():
    with pytest.raises(ValidationError):
        Command(kiosk_id=A, name="self_test", args={"device": "toaster"})
    with pytest.raises(ValidationError):
        Command(kiosk_id=A, name="reboot", args={"now": True})
    with pytest.raises(ValidationError):
        Command(kiosk_id=A, name="format_disk")
    with pytest.raises(ValidationError):
        Command(kiosk_id=A, name="apply_config", args={"version": 1, "settings": {"volume": 101}})
    now = utcnow()
    with pytest.raises(ValidationError):
        Command(kiosk_id=A, name="reboot", issued_at=now, expires_at=now)
    assert Command(kiosk_id=A, name="fetch_logs").parsed_args().lines == 200


def test_command_carries_response_topic_correlation_and_expiry():
    cmd = Command(kiosk_id=A, name="screenshot", expires_at=utcnow() + timedelta(seconds=90))
    out = command_outgoing(cmd)
    assert out.topic == "kiosk/kiosk-a/cmd/req" and not out.retain and out.qos == 1
    assert out.properties.ResponseTopic == "kiosk/kiosk-a/cmd/res"
    assert correlation_id(out.properties) == cmd.id
    assert 89 <= out.properties.MessageExpiryInterval <= 90
    expired = Command(kiosk_id=A, name="reboot", issued_at=utcnow() - timedelta(hours=1),
                      expires_at=utcnow() - timedelta(minutes=1))
    assert expired.expired() and command_outgoing(expired).properties.MessageExpiryInterval == 1


def test_results_go_to_the_kiosks_own_response_topic_only():
    cmd = Command(kiosk_id=A, name="reboot")
    props = command_outgoing(cmd).properties
    props.ResponseTopic = "kiosk/kiosk-b/cmd/res"  # a tampered request
    out = result_outgoing(CommandResult(kiosk_id=A, id=cmd.id, status="accepted"), props)
    assert out.topic == "kiosk/kiosk-a/cmd/res" and correlation_id(out.properties) == cmd.id


def test_will_matches_the_birth():
    birth = Presence(kiosk_id=A, online=True, session=42)
    will = will_for(birth)
    body = decode(Presence, will.payload)
    assert will.retain and will.qos == 1 and will.topic == "kiosk/kiosk-a/status"
    assert (body.online, body.session, body.reason) == (False, 42, "will")


def test_config_settings_are_validated_as_kiosk_settings():
    assert ConfigDesired(kiosk_id=A, version=1, settings={"language": "en"}).validated_settings().language == "en"
    with pytest.raises(ValidationError):
        ConfigDesired(kiosk_id=A, version=1, settings={"idle_timeout_s": 20, "idle_warning_s": 30}).validated_settings()


# ---------------------------------------------------------------- personal data


ID_NUMBERS = ["11010119900307123X", "440308198812240011", "110101 19900307 1234"]
MOBILES = ["13812345678", "+86 138 1234 5678", "0086-15912345678", "199-1234-5678"]


@pytest.mark.parametrize("secret", ID_NUMBERS + MOBILES + ["<pii>张三</pii>"])
@pytest.mark.parametrize("build", [
    lambda s: Event(kiosk_id=A, kind="staff_action", detail=f"checked by {s}"),
    lambda s: Health(kiosk_id=A, out_of_service_reason=f"call {s}"),
    lambda s: Health(kiosk_id=A, devices=[DeviceHealth(kind="idcard", state="fault", message=f"card {s}")]),
    lambda s: CommandResult(kiosk_id=A, id=uuid.uuid4(), status="succeeded", payload={"lines": ["ok", f"x {s}"]}),
    lambda s: CommandResult(kiosk_id=A, id=uuid.uuid4(), status="failed", detail=s),
    lambda s: ConfigDesired(kiosk_id=A, version=1, settings={"receipt_footer": s}),
    lambda s: Command(kiosk_id=A, name="set_out_of_service", args={"enabled": True, "reason": s}),
    lambda s: Presence(kiosk_id=A, online=True, session=1, app_version=s),
], ids=["event", "health", "device", "payload", "detail", "config", "command", "presence"])
def test_personal_data_in_any_free_text_field_is_refused(build, secret):
    with pytest.raises(ValidationError, match="personal data"):
        build(secret)


def test_ordinary_numbers_are_not_mistaken_for_personal_data():
    Event(kiosk_id=A, kind="test", detail="ts 2026-11-26T04:11:07Z uptime 1795666195 s, 12345678901234 bytes, "
                                          "uuid 895b07fd-0268-4ea8-86b1-c3dbd8ce55b3, hotline 95588, +86 10 6512 3456")
    CommandResult(kiosk_id=A, id=uuid.uuid4(), status="succeeded", data=b"13812345678 110101199003071234")


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(max_size=20), suffix=st.text(max_size=20),
       area=st.integers(100000, 999999), birth=st.dates(date(1900, 1, 1), date(2099, 12, 31)), seq=st.integers(0, 999), check=st.sampled_from("0123456789X"))
def test_any_resident_id_number_in_text_is_refused(prefix, suffix, area, birth, seq, check):
    number = f"{area}{birth:%Y%m%d}{seq:03d}{check}"
    with pytest.raises(ValidationError):
        Event(kiosk_id=A, kind="test", detail=f"{prefix} {number} {suffix}")


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(max_size=20), second=st.integers(3, 9), rest=st.integers(0, 999_999_999))
def test_any_mobile_number_in_text_is_refused(prefix, second, rest):
    with pytest.raises(ValidationError):
        Health(kiosk_id=A, out_of_service_reason=f"{prefix} 1{second}{rest:09d}.")
