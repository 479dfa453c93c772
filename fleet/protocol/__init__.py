"""The fleet protocol: MQTT 5 topics and versioned pydantic messages (JSON).

Topics (``{id}`` = kiosk id = CN of the kiosk's client certificate; see `topics`):

=============================  =========  ======  ========  ==============================
topic                          direction  QoS     retained  model
=============================  =========  ======  ========  ==============================
kiosk/{id}/status              k → s      1       yes       Presence (also the last will)
kiosk/{id}/health              k → s      1       no        Health
kiosk/{id}/events              k → s      1       no        Event (through the outbox)
kiosk/{id}/cmd/req             s → k      1       no        Command (+ Response Topic,
                                                            Correlation Data, Expiry)
kiosk/{id}/cmd/res             k → s      1       no        CommandResult (outbox)
kiosk/{id}/config/desired      s → k      1       yes       ConfigDesired
kiosk/{id}/config/reported     k → s      1       yes       ConfigReported (outbox)
kiosk/{id}/update/desired      s → k      1       yes       UpdateDesired
kiosk/{id}/update/reported     k → s      1       no        UpdateReported (outbox)
fleet/server/status            s → all    1       yes       ServerPresence (+ will)
=============================  =========  ======  ========  ==============================

Presence rule (Sparkplug's bdSeq): the agent's ``session`` grows by one per connection
and is persisted; birth and will of a connection carry the same value. A receiver
ignores a presence whose session is lower than the highest it has seen for the kiosk,
so a late will never marks a reconnected kiosk offline (`PresenceTracker`).

Commands: `CommandName` reboot | restart_app | self_test | fetch_logs | screenshot |
set_out_of_service | apply_config, typed args per name (`COMMAND_ARGS`), ``id`` (uuid)
makes them idempotent; `CommandStatus` accepted | succeeded | failed | refused | expired.

Every message has ``v`` (schema version, `SCHEMA_VERSION`) and ``ts``; every string in
every message is checked for personal data (`privacy.find_personal_data`).

Helpers: `outgoing(msg)`, `command_outgoing(cmd)`, `result_outgoing(res, req_props)`,
`will_for(presence)`, `decode(Model, payload)`, `decode_kiosk_publish(topic, payload)`,
`correlation_id(props)`, `kiosk_topic(id, Channel.X)`, `kiosk_filter(Channel.X)`.
"""

from fleet.protocol.codec import (
    CHANNEL_MODEL,
    CONTENT_TYPE,
    MODEL_CHANNEL,
    Outgoing,
    command_outgoing,
    correlation_id,
    decode,
    decode_kiosk_publish,
    encode,
    outgoing,
    publish_properties,
    result_outgoing,
    server_presence_outgoing,
    server_will,
    will_for,
)
from fleet.protocol.messages import (
    COMMAND_ARGS,
    SCHEMA_VERSION,
    ApplyConfigArgs,
    Command,
    CommandName,
    CommandResult,
    CommandStatus,
    ConfigDesired,
    ConfigReported,
    ConfigStatus,
    DeviceHealth,
    DeviceKind,
    DeviceState,
    Event,
    EventKind,
    FetchLogsArgs,
    FleetMessage,
    FleetModel,
    FlowCounters,
    Health,
    KioskMessage,
    KioskSettings,
    NoArgs,
    OutOfServiceArgs,
    Presence,
    PresenceTracker,
    SelfTestArgs,
    ServerPresence,
    SystemHealth,
    UnsupportedVersion,
    UpdateDesired,
    UpdateReported,
    UpdateState,
    utcnow,
)
from fleet.protocol.privacy import find_personal_data, redact
from fleet.protocol.topics import (
    KIOSK_PUBLISHES,
    KIOSK_SUBSCRIBES,
    RETAINED,
    SERVER_STATUS,
    SERVER_USERNAME,
    Channel,
    check_kiosk_id,
    kiosk_filter,
    kiosk_topic,
    parse_kiosk_topic,
    valid_kiosk_id,
)

__all__ = [name for name in dir() if not name.startswith("_")]
