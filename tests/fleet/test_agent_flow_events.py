"""A citizen session's end reaches the fleet with what the service statistics need: the
app's control handler records the flow event (service, step it ended on, its place in the
flow, abort reason, duration), the real agent process fetches it over the control socket
and publishes it on MQTT (real Mosquitto), where the server's subscription receives it."""

from __future__ import annotations

from fleet.protocol import Channel, Event, EventKind, Presence, decode, kiosk_filter, kiosk_topic

A = "kiosk-a"


def test_flow_events_carry_step_reason_and_duration_to_the_fleet(mqtt_probe, kiosk_app, agent_process):
    server = mqtt_probe("probe")
    server.subscribe(kiosk_filter(Channel.EVENTS))
    server.subscribe(kiosk_topic(A, Channel.STATUS))
    agent_process(A)
    server.wait_for(kiosk_topic(A, Channel.STATUS), lambda m: decode(Presence, m.payload).online, timeout=10)

    handler = kiosk_app.handler
    handler.begin_session("licence-renewal")
    handler.end_session("licence-renewal", False, step="medical_check", step_no=4, reason="idle_timeout",
                        duration_s=95.5)
    handler.begin_session("tax-invoice")
    handler.end_session("tax-invoice", True, step="done", step_no=5, duration_s=41.0)

    flows = lambda m: decode(Event, m.payload).kind in (EventKind.FLOW_ABORTED, EventKind.FLOW_COMPLETED)  # noqa: E731
    server.wait_for(kiosk_filter(Channel.EVENTS), flows, count=2, timeout=20)
    events = [decode(Event, m.payload) for m in server.received(kiosk_filter(Channel.EVENTS), flows)]
    got = [(e.kind.value, e.flow, e.step, e.step_no, e.reason, e.duration_s, e.count) for e in events]
    assert got == [("flow_aborted", "licence-renewal", "medical_check", 4, "idle_timeout", 95.5, 1),
                   ("flow_completed", "tax-invoice", "done", 5, "", 41.0, 1)]
