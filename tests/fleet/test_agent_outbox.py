"""The agent's SQLite outbox: messages made while the broker is down survive an agent
restart and arrive exactly once, in order, when the broker is back."""

from __future__ import annotations

import time

from fleet.agent.store import AgentStore
from fleet.protocol import Channel, Event, EventKind, Presence, decode, kiosk_filter, kiosk_topic, outgoing
from fleet.server.testing import wait_until

A = "kiosk-a"
EVENTS = kiosk_topic(A, Channel.EVENTS)


def outbox_size(path) -> int:
    store = AgentStore(path)
    try:
        return store.outbox_size()
    finally:
        store.close()


def test_outage_with_agent_restart_delivers_every_message_exactly_once_in_order(
        mosquitto, mqtt_probe, kiosk_app, agent_process):
    # the server's subscription is a persistent session, so it outlives the broker restart
    server = mqtt_probe("probe", clean_start=False, session_expiry_s=600)
    server.subscribe(kiosk_filter(Channel.EVENTS))
    server.subscribe(kiosk_topic(A, Channel.STATUS))
    agent = agent_process(A)
    server.wait_for(kiosk_topic(A, Channel.STATUS), lambda m: decode(Presence, m.payload).online, timeout=10)

    mosquitto.stop()
    buffer = kiosk_app.handler.event_buffer
    before_restart, after_restart = 30, 20
    for i in range(before_restart):
        buffer.record(EventKind.TEST, count=i)
    wait_until(lambda: buffer.acked >= before_restart, 20, what="the agent to take the first events into its outbox")

    agent.stop()  # restarted while the broker is still away: paho's memory is gone
    assert outbox_size(agent.db_path) >= before_restart
    agent.start()
    for i in range(before_restart, before_restart + after_restart):
        buffer.record(EventKind.TEST, count=i)
    total = before_restart + after_restart
    wait_until(lambda: buffer.acked >= total, 20, what="the restarted agent to take the rest")

    mosquitto.start()
    server.wait_connected()
    test_events = lambda m: decode(Event, m.payload).kind is EventKind.TEST  # noqa: E731
    def diagnosis() -> str:
        counts = [decode(Event, m.payload).count for m in server.received(EVENTS, test_events)]
        return f"received counts {counts}\n--- agent log ---\n{agent.log()[-3000:]}\n--- broker ---\n{mosquitto.log()[-2000:]}"

    try:
        server.wait_for(EVENTS, test_events, count=total, timeout=20)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{diagnosis()}") from None
    time.sleep(0.5)  # duplicates, if any, would arrive now
    events = [decode(Event, m.payload) for m in server.received(EVENTS, test_events)]
    assert len(events) == total, diagnosis()
    assert len({e.id for e in events}) == total, diagnosis()
    assert [e.count for e in events] == list(range(total)), diagnosis()  # in order
    wait_until(lambda: outbox_size(agent.db_path) == 0, 10, what="the outbox to empty after PUBACKs")


def test_outbox_rows_survive_reopening_and_leave_only_when_deleted(tmp_path):
    """The store on its own: rows and the cursor commit together and survive a reopen."""
    store = AgentStore(tmp_path / "agent.db")
    msgs = [outgoing(Event(kiosk_id=A, kind=EventKind.TEST, count=i)) for i in range(5)]
    seqs = store.enqueue(*msgs, kv={"app_event_seq": "5"})
    store.close()
    store = AgentStore(tmp_path / "agent.db")
    rows = store.pending()
    assert [r.seq for r in rows] == seqs and store.get("app_event_seq") == "5"
    assert rows[0].properties.ContentType == "application/json"
    assert [r.seq for r in store.pending(after=seqs[2])] == seqs[3:]
    store.delete(seqs[0])
    assert store.outbox_size() == 4
    store.close()
