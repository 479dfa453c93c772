"""paho-mqtt's MQTT 5 `Properties` without its per-message table building.

paho decodes the properties of every received PUBLISH into a new `Properties` object,
and that object builds two lookup tables (28 names, 27 type entries with `list.index`
calls) in `__init__`, then finds each property's name by scanning them with
`str.replace` per entry — about 30–70 µs per message, the largest single item of an
ingest worker's CPU (measured with py-spy, see docs/fleet-server.md "Ingest cost").

`FastProperties` is the same class with the tables built once and the lookups made by
dictionary: the same attributes, the same checks and error messages, the same packing
(inherited). `install()` makes paho's decoders use it; it is idempotent and does nothing
if paho's layout is not the one this was written against (then paho stays as it is).
`fleet.server.paho_client` goes further for the kiosk channels: it reads PUBLISH
packets itself and decodes their properties only when asked.
"""

from __future__ import annotations

import logging
import re

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import (
    MalformedPacket,
    MQTTException,
    Properties,
    VariableByteIntegers,
    readBytes,
    readInt16,
    readInt32,
)

log = logging.getLogger(__name__)

_TEMPLATE = Properties(PacketTypes.PUBLISH)
_TYPES: list[str] = list(_TEMPLATE.types)
_NAMES: dict[str, int] = dict(_TEMPLATE.names)
_PROPERTIES: dict[int, tuple[int, list[int]]] = dict(_TEMPLATE.properties)
_IDENT_BY_COMPRESSED = {name.replace(" ", ""): ident for name, ident in _NAMES.items()}
_NAME_BY_IDENT: dict[int, str] = {}
for _name, _ident in _NAMES.items():
    _NAME_BY_IDENT[_ident] = _name  # the last one wins, as in paho's getNameFromIdent
_COMPRESSED = tuple(_IDENT_BY_COMPRESSED)
_MULTIPLE = frozenset({11, 38})  # Subscription Identifier, User Property (paho's allowsMultiple)
_PRIVATE = frozenset({"packetType", "types", "names", "properties"})
(_BYTE, _INT16, _INT32, _VBI, _BINARY, _UTF8, _PAIR) = range(7)
assert _TYPES == ["Byte", "Two Byte Integer", "Four Byte Integer", "Variable Byte Integer",
                  "Binary Data", "UTF-8 Encoded String", "UTF-8 String Pair"]


_FORBIDDEN_IN_UTF8 = re.compile("[\x00\ud800-\udfff\ufeff]")


def readUTF(buffer, maxlen):  # noqa: N802 (paho's name)
    """paho's `readUTF` with its per-character loop done by one regex search (same errors)."""
    if maxlen < 2:
        raise MalformedPacket("Not enough data to read string length")
    length = readInt16(buffer)
    if length > maxlen - 2:
        raise MalformedPacket("Length delimited string too long")
    buf = buffer[2:2 + length].decode("utf-8")
    bad = _FORBIDDEN_IN_UTF8.search(buf)
    if bad:
        c = ord(bad.group())
        if 0xD800 <= c <= 0xDFFF:
            raise MalformedPacket("[MQTT-1.5.4-1] D800-DFFF found in UTF-8 data")
        if c == 0:
            raise MalformedPacket("[MQTT-1.5.4-2] Null found in UTF-8 data")
        raise MalformedPacket("[MQTT-1.5.4-3] U+FEFF in UTF-8 data")
    return buf, length + 2


class FastProperties(Properties):
    """paho's `Properties`, its tables shared by all instances (never mutated by paho)."""

    types = _TYPES
    names = _NAMES
    properties = _PROPERTIES

    def __init__(self, packetType):  # noqa: N803 (paho's name)
        object.__setattr__(self, "packetType", packetType)

    def getIdentFromName(self, compressedName):  # noqa: N802, N803
        return _IDENT_BY_COMPRESSED.get(compressedName, -1)

    def allowsMultiple(self, compressedName):  # noqa: N802, N803
        return _IDENT_BY_COMPRESSED.get(compressedName, -1) in _MULTIPLE

    def getNameFromIdent(self, identifier):  # noqa: N802
        return _NAME_BY_IDENT.get(identifier)

    def __setattr__(self, name, value):
        name = name.replace(" ", "")
        if name in _PRIVATE:
            object.__setattr__(self, name, value)
            return
        ident = _IDENT_BY_COMPRESSED.get(name)
        if ident is None:
            raise MQTTException(f"Property name must be one of {_NAMES.keys()}")
        if self.packetType not in _PROPERTIES[ident][1]:
            raise MQTTException(f"Property {name} does not apply to packet type {PacketTypes.Names[self.packetType]}")
        if not isinstance(value, list):
            if name in ("ReceiveMaximum", "TopicAlias") and (value < 1 or value > 65535):
                raise MQTTException(f"{name} property value must be in the range 1-65535")
            if name == "TopicAliasMaximum" and (value < 0 or value > 65535):
                raise MQTTException(f"{name} property value must be in the range 0-65535")
            if name in ("MaximumPacketSize", "SubscriptionIdentifier") and (value < 1 or value > 268435455):
                raise MQTTException(f"{name} property value must be in the range 1-268435455")
            if name in ("RequestResponseInformation", "RequestProblemInformation", "PayloadFormatIndicator") \
                    and value != 0 and value != 1:
                raise MQTTException(f"{name} property value must be 0 or 1")
        if ident in _MULTIPLE:
            if not isinstance(value, list):
                value = [value]
            if name in self.__dict__:
                value = self.__dict__[name] + value
        object.__setattr__(self, name, value)

    def clear(self):
        if len(self.__dict__) > 1:  # more than packetType
            for name in _COMPRESSED:
                self.__dict__.pop(name, None)

    def isEmpty(self):  # noqa: N802
        return not any(name in self.__dict__ for name in _COMPRESSED)

    def readProperty(self, buffer, type, propslen):  # noqa: A002, N802 (paho's names)
        if type == _BYTE:
            return buffer[0], 1
        if type == _INT16:
            return readInt16(buffer), 2
        if type == _INT32:
            return readInt32(buffer), 4
        if type == _VBI:
            return VariableByteIntegers.decode(buffer)
        if type == _BINARY:
            return readBytes(buffer, propslen)
        if type == _UTF8:
            return readUTF(buffer, propslen)
        if type == _PAIR:
            value, valuelen = readUTF(buffer, propslen)
            value1, valuelen1 = readUTF(buffer[valuelen:], propslen - valuelen)
            return (value, value1), valuelen + valuelen1
        return super().readProperty(buffer, type, propslen)  # what paho does with an unknown type

    def unpack(self, buffer):
        self.clear()
        propslen, vbi_len = VariableByteIntegers.decode(buffer)
        buffer = buffer[vbi_len:]
        left = propslen
        while left > 0:
            identifier, id_len = VariableByteIntegers.decode(buffer)
            buffer = buffer[id_len:]
            left -= id_len
            value, value_len = self.readProperty(buffer, _PROPERTIES[identifier][0], left)
            buffer = buffer[value_len:]
            left -= value_len
            name = _NAME_BY_IDENT[identifier].replace(" ", "")
            if identifier not in _MULTIPLE and name in self.__dict__:
                raise MQTTException(f"Property '{name}' must not exist more than once")
            setattr(self, name, value)
        return self, propslen + vbi_len


def install() -> bool:
    """Make paho decode received packets' properties with `FastProperties`; True if it does.

    Only the decoders (paho.mqtt._packet, paho ≥ 2.2) are switched: the client module
    checks outgoing properties with ``isinstance(p, Properties)``, which must keep
    accepting paho's own class."""
    try:
        from paho.mqtt import _packet
    except ImportError:
        log.warning("paho has no _packet module; received properties decode at paho's speed")
        return False
    current = getattr(_packet, "Properties", None)
    if current is FastProperties:
        return True
    if current is not Properties:
        log.warning("paho's Properties is not the expected class; received properties decode at paho's speed")
        return False
    _packet.Properties = FastProperties
    return True
