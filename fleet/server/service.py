"""The fleet server as one object: database, MQTT link, ingest, dispatcher, auth,
artifacts and the rollout engine.

`FleetServer(settings)` opens (and migrates) the database; `start()` connects to the
broker and starts the ingest thread; `stop()` says goodbye on MQTT and stops. The web
application (`fleet.server.webapp.create_app`) takes a FleetServer, so tests and the
entry point build it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fleet.server.artifacts import ArtifactStore
from fleet.server.alerts import QUEUE_AGE_ALERT_S
from fleet.server.auth import Auth
from fleet.server.broker_watch import LOG_TOPICS, BrokerWatch
from fleet.server.commands import Dispatcher
from fleet.server.db import DEFAULT_URL, Database
from fleet.server.health_retention import RetentionSettings, health_job
from fleet.server.login_throttle import LoginThrottle
from fleet.server.ingest import Ingest
from fleet.server.mqtt import MqttLink, MqttSettings
from fleet.server.notify.config import NotifyConfig
from fleet.server.notify.engine import Notifier
from fleet.server.rollout_engine import RolloutEngine
from fleet.server.rollup import RollupThread
from fleet.server.stats import StatsAggregator
from fleet.server.tokens import Tokens
from fleet.server.workers import WorkerPool

SERVER_VERSION = "0.1.0"


@dataclass
class ServerSettings:
    db_url: str = DEFAULT_URL
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    default_heartbeat_s: float = 30.0  # used for kiosks whose health does not say its interval
    missed_heartbeats: int = 3  # a kiosk is silent (offline alert) after this many
    sweep_every_s: float = 1.0
    secure_cookies: bool = False  # set when the console is served over HTTPS
    artifact_dir: Path = Path("fleet-artifacts")  # uploaded bundles
    trusted_keys: list[str] = field(default_factory=list)  # ed25519 keys an upload must be signed by
    artifact_base_url: str | None = None  # public URL of this server, for the bundle URL kiosks get
    max_artifact_bytes: int = 2 << 30
    rollout_tick_s: float = 1.0  # how often rollouts look at new reports and deadlines
    notify: NotifyConfig = field(default_factory=NotifyConfig)  # alert notification rules and channels
    queue_age_alert_s: float = QUEUE_AGE_ALERT_S  # a kiosk's oldest queued submission older: alert
    ingest_workers: int = 0  # >0: ingest runs in this many processes on a shared subscription
    pki_dir: Path | None = None  # where the workers' certificates are (services/fleet-ingest.N.*)
    retention: RetentionSettings = field(default_factory=RetentionSettings)  # health downsampling and retention
    stats_timezone: str = "Asia/Shanghai"  # service statistics count local days of this zone
    stats_tick_s: float = 10.0  # how often flow events are folded into the statistics
    stats_keep_daily_days: int = 400  # then merged into monthly rows
    stats_keep_monthly_days: int = 3660
    ingest_log_dir: Path | None = None  # the workers' logs (fleet-ingest.N.log); None: discarded


class FleetServer:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.db = Database(settings.db_url)
        self.auth = Auth(self.db)
        self.login_throttle = LoginThrottle(self.db)  # console and API logins (api.do_login), in the database
        self.tokens = Tokens(self.db)  # API tokens (role-scoped, expiring)
        self.broker_watch = BrokerWatch(self.db)
        self.link = MqttLink(settings.mqtt, self._received, server_version=SERVER_VERSION,
                             extra_subscriptions=LOG_TOPICS, kiosk_channels=not settings.ingest_workers)
        self.workers = None
        if settings.ingest_workers:
            if settings.pki_dir is None:
                raise ValueError("ingest workers need the PKI directory with their certificates (--pki)")
            self.workers = WorkerPool(settings.ingest_workers, settings.db_url, settings.mqtt, settings.pki_dir,
                                      log_dir=settings.ingest_log_dir)
        self.ingest = Ingest(self.db, self.link.ack, default_heartbeat_s=settings.default_heartbeat_s,
                             missed_heartbeats=settings.missed_heartbeats, sweep_every_s=settings.sweep_every_s,
                             queue_age_alert_s=settings.queue_age_alert_s)
        self.notifier = Notifier(self.db, settings.notify)
        self.dispatcher = Dispatcher(self.db, self.link.publish)
        self.artifacts = ArtifactStore(self.db, settings.artifact_dir, settings.trusted_keys,
                                       max_bytes=settings.max_artifact_bytes)
        self.rollouts = RolloutEngine(self.db, self.link.publish, self.artifacts,
                                      base_url=lambda: self.settings.artifact_base_url, tick_s=settings.rollout_tick_s)
        self.retention = RollupThread(health_job(self.db, settings.retention), settings.retention.every_s,
                                      name="fleet-health-retention")
        self.stats = StatsAggregator(self.db, timezone=settings.stats_timezone, tick_s=settings.stats_tick_s,
                                     keep_daily_days=settings.stats_keep_daily_days,
                                     keep_monthly_days=settings.stats_keep_monthly_days)
        self._started = False

    def _received(self, message) -> None:
        if message.topic.startswith("$SYS/"):
            self.broker_watch.handle(message.topic, message.payload)
            self.link.ack([message])
            return
        self.ingest.submit(message)

    def start(self, wait: float | None = 10.0) -> None:
        """Start ingest and the broker connection; wait until subscribed if `wait`."""
        if self._started:
            return
        self._started = True
        if self.workers:
            self.workers.start()
        self.ingest.start()  # with workers: the sweeps only
        self.link.start()
        if wait and not self.link.wait_ready(wait):
            raise TimeoutError(f"no connection to the broker at {self.settings.mqtt.host}:{self.settings.mqtt.port}")
        self.rollouts.start()  # paho keeps what it publishes before the connection is up
        self.notifier.start()
        if self.settings.retention.every_s > 0:
            self.retention.start()
        self.stats.start()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.retention.stop()
        self.stats.stop()
        self.notifier.stop()
        self.rollouts.stop()
        self.link.stop()
        self.ingest.stop()
        if self.workers:
            self.workers.stop()

    def close(self) -> None:
        self.stop()
        self.db.close()
