"""Presence against a real broker: birth, clean shutdown, kill -9 (last will), the
session counter, and the late-will rule."""

from __future__ import annotations

import time

from fleet.broker.testing import Received
from fleet.protocol import (
    Channel,
    Health,
    Presence,
    PresenceTracker,
    decode,
    decode_kiosk_publish,
    kiosk_filter,
    kiosk_topic,
    will_for,
)

A = "kiosk-a"
STATUS = kiosk_topic(A, Channel.STATUS)


def presences(probe) -> list[Presence]:
    return [decode(Presence, m.payload) for m in probe.received(STATUS) if m.payload]


def is_presence(online: bool, session: int | None = None):
    def match(m: Received) -> bool:
        if not m.payload:
            return False
        p = decode(Presence, m.payload)
        return p.online == online and (session is None or p.session == session)
    return match


def test_online_then_kill9_fires_the_will_with_the_same_session(mqtt_probe, kiosk_app, agent_process):
    server = mqtt_probe()
    server.subscribe(kiosk_filter(Channel.STATUS))
    server.subscribe(kiosk_filter(Channel.HEALTH))
    agent = agent_process(A)
    birth = decode(Presence, server.wait_for(STATUS, is_presence(True), timeout=10)[0].payload)
    assert birth.app_version == "1.2.3" and birth.agent_version
    health = decode_kiosk_publish(*_tp(server.wait_for(kiosk_topic(A, Channel.HEALTH), timeout=5)[0]))[2]
    assert isinstance(health, Health) and health.app_reachable
    assert {d.kind.value for d in health.devices} == {"printer", "bp"}

    agent.kill9()
    will = decode(Presence, server.wait_for(STATUS, is_presence(False), timeout=5)[0].payload)
    assert will.session == birth.session and will.reason == "will"

    agent.start()  # a new process: a higher session, online again
    newer = lambda m: is_presence(True)(m) and decode(Presence, m.payload).session > birth.session  # noqa: E731
    again = decode(Presence, server.wait_for(STATUS, newer, timeout=10)[0].payload)
    assert again.session == birth.session + 1
    tracker = PresenceTracker()
    for p in presences(server):
        tracker.apply(p)
    assert tracker.is_online(A)


def test_clean_stop_publishes_offline_without_a_will(mqtt_probe, kiosk_app, agent_process):
    server = mqtt_probe()
    server.subscribe(STATUS)
    agent = agent_process(A)
    server.wait_for(STATUS, is_presence(True), timeout=10)
    assert agent.stop() == 0
    offline = server.wait_for(STATUS, is_presence(False), timeout=5)
    time.sleep(0.3)
    assert [decode(Presence, m.payload).reason for m in offline] == ["shutdown"]
    # the retained status a late subscriber sees is the offline one
    late = mqtt_probe()
    late.subscribe(STATUS)
    assert decode(Presence, late.wait_for(STATUS, timeout=5)[0].payload).online is False


def test_a_late_will_from_an_older_session_never_marks_the_kiosk_offline(mqtt_probe, fleet_pki, kiosk_app,
                                                                            agent_process):
    """A stale connection of the same kiosk (session n-1) dies after the agent's
    session n came online (here: the agent's connection takes it over, the client id
    being the certificate's CN): its will is delivered last, and must be ignored."""
    server = mqtt_probe()
    server.subscribe(STATUS)
    # the older connection: same certificate, its birth and will carry session 1
    old = Presence(kiosk_id=A, online=True, session=1)
    stale = mqtt_probe(A, connect=False)
    stale.client.reconnect_delay_set(60, 60)  # once taken over it stays away (no ping-pong)
    will = will_for(old)
    stale.client.will_set(will.topic, will.payload, will.qos, will.retain, will.properties)
    stale.connect()
    stale.send(_birth(old))
    server.wait_for(STATUS, is_presence(True, 1))

    agent = agent_process(A)
    birth = decode(Presence, server.wait_for(STATUS, lambda m: is_presence(True)(m) and
                                             decode(Presence, m.payload).session > 1, timeout=10)[0].payload)
    # the broker binds the client id to the certificate, so the agent's connection took
    # over the stale one: the broker closed it and published its will — usually before
    # the agent's birth, but a will may also come last (EMQX with a will delay, a dead
    # TCP connection noticed late); either way the session counter decides
    server.wait_for(STATUS, is_presence(False, 1), timeout=10)

    tracker = PresenceTracker()
    accepted = [tracker.apply(p) for p in presences(server)]
    order = [(p.online, p.session) for p in presences(server)]
    if order[-1] == (False, 1):
        assert accepted[-1] is False  # the will arrived last and was ignored
    assert tracker.is_online(A) and tracker.latest(A).session == birth.session

    # the retained status was overwritten by the late will; the agent re-asserts its
    # birth with the next periodic health (1 s in tests), so late subscribers see online
    late = mqtt_probe()
    late.subscribe(STATUS)
    late.wait_for(STATUS, is_presence(True, birth.session), timeout=5)
    assert agent.running


def test_presence_tracker_rules():
    t = PresenceTracker()
    assert t.apply(Presence(kiosk_id=A, online=True, session=5))
    assert not t.apply(Presence(kiosk_id=A, online=False, session=4))  # late will
    assert t.is_online(A)
    assert t.apply(Presence(kiosk_id=A, online=False, session=5))  # its own will
    assert not t.is_online(A)
    assert not t.apply(Presence(kiosk_id=A, online=True, session=5))  # a birth replayed after its will
    assert t.apply(Presence(kiosk_id=A, online=True, session=6))
    assert t.is_online(A)


def _birth(p: Presence):
    from fleet.protocol import outgoing
    return outgoing(p)


def _tp(m: Received):
    return m.topic, m.payload
