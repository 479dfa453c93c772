"""The fleet server as one object: database, MQTT link, ingest, dispatcher, auth.

`FleetServer(settings)` opens (and migrates) the database; `start()` connects to the
broker and starts the ingest thread; `stop()` says goodbye on MQTT and stops. The web
application (`fleet.server.api.create_app`) takes a FleetServer, so tests and the
entry point build it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.server.auth import Auth
from fleet.server.commands import Dispatcher
from fleet.server.db import DEFAULT_URL, Database
from fleet.server.ingest import Ingest
from fleet.server.mqtt import MqttLink, MqttSettings

SERVER_VERSION = "0.1.0"


@dataclass
class ServerSettings:
    db_url: str = DEFAULT_URL
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    default_heartbeat_s: float = 30.0  # used for kiosks whose health does not say its interval
    missed_heartbeats: int = 3  # a kiosk is silent (offline alert) after this many
    sweep_every_s: float = 1.0
    secure_cookies: bool = False  # set when the console is served over HTTPS


class FleetServer:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.db = Database(settings.db_url)
        self.auth = Auth(self.db)
        self.link = MqttLink(settings.mqtt, self._received, server_version=SERVER_VERSION)
        self.ingest = Ingest(self.db, self.link.ack, default_heartbeat_s=settings.default_heartbeat_s,
                             missed_heartbeats=settings.missed_heartbeats, sweep_every_s=settings.sweep_every_s)
        self.dispatcher = Dispatcher(self.db, self.link.publish)
        self._started = False

    def _received(self, message) -> None:
        self.ingest.submit(message)

    def start(self, wait: float | None = 10.0) -> None:
        """Start ingest and the broker connection; wait until subscribed if `wait`."""
        if self._started:
            return
        self._started = True
        self.ingest.start()
        self.link.start()
        if wait and not self.link.wait_ready(wait):
            raise TimeoutError(f"no connection to the broker at {self.settings.mqtt.host}:{self.settings.mqtt.port}")

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.link.stop()
        self.ingest.stop()

    def close(self) -> None:
        self.stop()
        self.db.close()
