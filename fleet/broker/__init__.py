"""The MQTT broker side of the fleet: Mosquitto config, ACL, certificates, a runner.

- ``mosquitto.conf.template`` — TLS listener, client certificates required, the
  certificate's CN becomes the username, ACL file; rendered by `render_config`.
- ``acl`` — each kiosk (CN = kiosk id) confined to ``kiosk/%u/…`` with directions;
  ``fleet-server`` may read and write everything under ``kiosk/`` and ``fleet/``.
- `fleet.broker.certs` — ``python -m fleet.broker.certs init|issue-kiosk ID|issue-server``.
- `fleet.broker.runner.MosquittoBroker` — starts/stops a real mosquitto with that config
  (tests, ``kiosk run --virtual``).
"""
