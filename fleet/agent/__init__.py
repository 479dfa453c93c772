"""The kiosk-side fleet agent (``kiosk-agent``), a process of its own beside the app.

- `agent.Agent` — MQTT 5 over TLS (paho 2.x, VERSION2 callbacks): presence with a
  session counter, health, events, commands, desired config/update;
- `store.AgentStore` — SQLite outbox, seen command ids, counters;
- `control_client.ControlClient` — the app's local control socket;
- `commands.CommandRunner`, `config.ConfigApplier`, `logs` (redaction), `system`
  (host figures from /proc), `settings.AgentSettings`, `cli.main`.
"""
